#include "server/connection_probe.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace baleen::server {
namespace {

// Numeric host and port of a socket address, as httplib formats Request::remote_addr (getnameinfo
// with NI_NUMERICHOST).
bool endpoint(const sockaddr_storage& a, socklen_t len, std::string* host, int* port) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = h;
  *port = std::atoi(s);
  return true;
}

bool peer_is(int fd, const std::string& host, int port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return false;
  std::string h;
  int p = -1;
  return endpoint(a, len, &h, &p) && p == port && h == host;
}

// The local endpoint of an IPv4 / IPv6 socket.
bool local_endpoint(int fd, std::string* host, int* port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return false;
  return (a.ss_family == AF_INET || a.ss_family == AF_INET6) && endpoint(a, len, host, port);
}

bool local_is(int fd, const std::string& host, int port) {
  std::string h;
  int p = -1;
  return local_endpoint(fd, &h, &p) && p == port && h == host;
}

// Calls f(fd) for each socket descriptor of the process (/proc/self/fd) until it returns true.
// False when the directory cannot be read.
template <class F>
bool for_each_socket(F f) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return false;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (f(static_cast<int>(fd))) break;
  }
  closedir(dir);
  return true;
}

}  // namespace

ConnectionProbe::ConnectionProbe(const httplib::Request& req)
    : remote_addr_(req.remote_addr), remote_port_(req.remote_port) {
  if (req.remote_port < 0 || req.local_port < 0) return;
  for_each_socket([&](int fd) {
    if (!peer_is(fd, req.remote_addr, req.remote_port) || !local_is(fd, req.local_addr, req.local_port)) return false;
    fd_ = fd;
    return true;
  });
}

bool ConnectionProbe::closed() const {
  if (fd_ < 0) return false;
  // The descriptor stays open while the handler runs (httplib closes it after), so it is still
  // this connection; a failed getpeername means the connection is no longer established.
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return errno == ENOTCONN;
  char c;
  const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // a pipelined next request: still there
  if (n == 0) return true;  // orderly close
  return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

int shut_down_reads(int local_port) {
  int n = 0;
  for_each_socket([&](int fd) {
    std::string host;
    int port = -1;
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    if (local_endpoint(fd, &host, &port) && port == local_port &&
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0 && shutdown(fd, SHUT_RD) == 0) {
      ++n;
    }
    return false;
  });
  return n;
}

}  // namespace baleen::server
