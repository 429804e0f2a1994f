// Whether the client of a request still holds its connection, so a request can be cancelled as
// soon as its client goes away, not only when the answer is written (which, for a non-streamed
// request, is after the whole generation). httplib 0.11 gives a handler no access to its socket:
// the probe finds it among the process's descriptors by its two endpoints (Request::remote_addr,
// remote_port, local_addr, local_port, which httplib fills from getpeername/getsockname) and
// then peeks at it without blocking: end of file (the peer closed) or an error (reset) means gone.
// A client that half-closes its side after sending the request reads as gone too (as in
// llama.cpp's server). Linux only (/proc/self/fd); elsewhere, or when the socket is not found,
// closed() is always false and disconnects are noticed when a write fails, as before.
#pragma once

#include <httplib.h>

#include <string>

namespace baleen::server {

class ConnectionProbe {
 public:
  explicit ConnectionProbe(const httplib::Request& req);
  bool found() const { return fd_ >= 0; }
  // True once the peer has closed or reset the connection. Cheap (two system calls).
  bool closed() const;

 private:
  int fd_ = -1;
  std::string remote_addr_;
  int remote_port_ = -1;
};

// Shuts the read side (shutdown SHUT_RD) of every connection the server accepted on local_port: the
// process's TCP sockets with that local port and a peer (the listening socket has none). For
// stop(): httplib 0.11 waits on an idle keep-alive connection for up to its keep-alive timeout
// without checking for stop(), so stopping took that long (10 s) while any client kept one open;
// a shut read side ends the wait at once. A request still being answered reads as its client gone
// (ConnectionProbe::closed), so its generation is cancelled rather than run to the end. Returns the
// number of connections shut; 0 where /proc/self/fd is missing (then stop() waits as before).
int shut_down_reads(int local_port);

}  // namespace baleen::server
