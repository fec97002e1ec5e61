#include "base/host_port.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace peerlab {

std::string CheckPort(const std::string& text, int min_port) {
  int port = 0;
  if (text.empty()) return "a port number is needed";
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::StrCat("port '", text, "' is not a number");
    }
  }
  if (text.size() > 5 || !absl::SimpleAtoi(text, &port) || port < min_port ||
      port > 65535) {
    return absl::StrCat("port ", text, " is outside ", min_port, "..65535");
  }
  return "";
}

absl::StatusOr<int> ParseHostPort(const std::string& address, int min_port) {
  std::string host;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", address, "': unclosed '[' in an IPv6 address"));
    }
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", address, "' has no port (HOST:PORT, e.g. [::1]:8080)"));
    }
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", address, "' has no port (HOST:PORT, e.g. 127.0.0.1:8080)"));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", address, "': write an IPv6 host in brackets, e.g. [::1]:8080"));
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", address, "' has no host (HOST:PORT, e.g. 127.0.0.1:8080)"));
  }
  if (std::string err = CheckPort(port, min_port); !err.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "': ", err));
  }
  int value = 0;
  (void)absl::SimpleAtoi(port, &value);
  return value;
}

}  // namespace peerlab
