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

}  // namespace baleen::server
