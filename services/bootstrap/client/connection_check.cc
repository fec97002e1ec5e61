#include "services/bootstrap/client/connection_check.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/command_line.h"

namespace peerlab::bootstrap {
namespace {

// The HTTP/2 client preface and an empty SETTINGS frame: a plaintext gRPC
// server answers with a SETTINGS frame of its own.
constexpr char kPreface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
constexpr size_t kPrefaceSize = sizeof(kPreface) - 1;

bool IsSettingsFrame(const std::string& bytes) {
  return bytes.size() >= 9 && bytes[3] == 0x04;
}

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& other) : fd_(other.fd_) { other.fd_ = -1; }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Connects with `timeout`; on success the socket is blocking with read and
// write timeouts. Otherwise `*problem` says why.
Socket Connect(const std::string& address, absl::Duration timeout,
               std::string* problem) {
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    *problem =
        absl::StrCat("cannot resolve \"", host, "\": ", ::gai_strerror(rc));
    return Socket();
  }
  int last_error = 0;
  bool timed_out = false;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Socket s(
        ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.get() < 0) continue;
    int rc = ::connect(s.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{.fd = s.get(), .events = POLLOUT, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) ==
          1) {
        socklen_t len = sizeof(last_error);
        ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &last_error, &len);
        rc = last_error == 0 ? 0 : -1;
      } else {
        timed_out = true;
        continue;
      }
    } else if (rc != 0) {
      last_error = errno;
    }
    if (rc == 0) {
      ::freeaddrinfo(found);
      int flags = 0;
      ::ioctl(s.get(), FIONBIO, &flags);
      timeval tv = absl::ToTimeval(timeout);
      ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      return s;
    }
  }
  ::freeaddrinfo(found);
  if (last_error == ECONNREFUSED) {
    *problem = absl::StrCat("server down: nothing listens on ", address,
                            " (connection refused)");
  } else if (timed_out) {
    *problem = absl::StrCat("no answer from ", address, " within ",
                            absl::FormatDuration(timeout),
                            " (host down, or a firewall drops the connection)");
  } else {
    *problem = absl::StrCat("cannot connect to ", address, ": ",
                            std::strerror(last_error));
  }
  return Socket();
}

// Up to `n` bytes, fewer at end of stream, error or timeout.
std::string ReadUpTo(int fd, size_t n) {
  std::string out;
  char buf[64];
  while (out.size() < n) {
    ssize_t got = ::read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// What a plaintext HTTP/2 client gets: true when the server answered with
// HTTP/2 SETTINGS (it speaks plaintext gRPC). Empty `*problem` and false
// when it answered otherwise.
bool SpeaksPlaintext(const std::string& address, absl::Duration timeout,
                     std::string* problem) {
  Socket s = Connect(address, timeout, problem);
  if (s.get() < 0) return false;
  if (::send(s.get(), kPreface, kPrefaceSize, MSG_NOSIGNAL) !=
      static_cast<ssize_t>(kPrefaceSize)) {
    return false;
  }
  return IsSettingsFrame(ReadUpTo(s.get(), 9));
}

int OnCertificateRequest(SSL* ssl, X509**, EVP_PKEY**) {
  *static_cast<bool*>(SSL_get_app_data(ssl)) = true;
  return 0;  // no certificate to give
}

std::string SslReason() {
  unsigned long e = ERR_peek_last_error();
  std::string reason = e != 0 && ERR_reason_error_string(e) != nullptr
                           ? ERR_reason_error_string(e)
                           : "connection closed";
  ERR_clear_error();
  return reason;
}

}  // namespace

std::optional<std::string> CheckConnection(const std::string& address,
                                           const TlsOptions& tls,
                                           absl::Duration timeout) {
  if (auto port = ParseHostPort(address, 1); !port.ok()) {
    return absl::StrCat("server address ", port.status().message());
  }
  std::string problem;
  if (!tls.enabled()) {
    if (SpeaksPlaintext(address, timeout, &problem)) return std::nullopt;
    if (!problem.empty()) return problem;
    return absl::StrCat(
        "the server at ", address,
        " expects TLS (it did not answer plaintext HTTP/2): give --tls-ca "
        "CA_FILE, and --tls-cert/--tls-key if it requires client "
        "certificates");
  }

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (ctx == nullptr) return std::nullopt;
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!tls.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr);
  }
  const bool has_cert = !tls.cert_file.empty();
  if (has_cert && (SSL_CTX_use_certificate_chain_file(
                       ctx.get(), tls.cert_file.c_str()) != 1 ||
                   SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(),
                                               SSL_FILETYPE_PEM) != 1)) {
    ERR_clear_error();
    return std::nullopt;  // MakeChannelCredentials reports bad files
  }
  SSL_CTX_set_client_cert_cb(ctx.get(), OnCertificateRequest);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));

  Socket s = Connect(address, timeout, &problem);
  if (s.get() < 0) return problem;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  bool certificate_requested = false;
  SSL_set_app_data(ssl.get(), &certificate_requested);
  SSL_set_fd(ssl.get(), s.get());
  const std::string need_cert = absl::StrCat(
      "the server at ", address,
      " requires a client certificate: give --tls-cert and --tls-key (signed "
      "by the CA the server trusts)");
  if (SSL_connect(ssl.get()) != 1) {
    std::string reason = SslReason();
    std::string ignored;
    if (SpeaksPlaintext(address, timeout, &ignored)) {
      return absl::StrCat("the server at ", address,
                          " speaks plaintext, not TLS: drop --tls-ca, "
                          "--tls-cert and --tls-key (or start it with TLS)");
    }
    if (certificate_requested && !has_cert) return need_cert;
    return absl::StrCat("TLS handshake with ", address, " failed: ", reason);
  }
  if (!tls.ca_file.empty()) {
    long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      return absl::StrCat("the certificate of the server at ", address,
                          " does not verify against --tls-ca ", tls.ca_file,
                          ": ", X509_verify_cert_error_string(verify));
    }
  }
  // TLS 1.3: a refused client certificate shows as an alert on first read.
  std::string reply;
  if (SSL_write(ssl.get(), kPreface, static_cast<int>(kPrefaceSize)) > 0) {
    char buf[9];
    int got = SSL_read(ssl.get(), buf, sizeof(buf));
    if (got > 0) reply.assign(buf, static_cast<size_t>(got));
  }
  if (reply.size() >= 4 && reply[3] == 0x04) return std::nullopt;
  std::string reason = SslReason();
  if (certificate_requested && !has_cert) return need_cert;
  if (has_cert) {
    return absl::StrCat("the server at ", address,
                        " refused the client certificate --tls-cert ",
                        tls.cert_file, " (", reason, ")");
  }
  return absl::StrCat("the server at ", address, " closed the TLS connection (",
                      reason, ")");
}

}  // namespace peerlab::bootstrap
