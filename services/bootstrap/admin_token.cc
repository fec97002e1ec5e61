#include "services/bootstrap/admin_token.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bounded_file.h"
#include "base/control_token.h"
#include "base/state_dir.h"
#include "base/token_file.h"

namespace peerlab::bootstrap {
namespace {

std::string EnvFile() {
  const char* file = std::getenv(kAdminTokenFileEnv);
  return file == nullptr ? "" : file;
}

// The address without its gRPC scheme.
std::string WithoutScheme(const std::string& address) {
  for (const char* scheme : {"dns:///", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(address, scheme)) {
      return address.substr(std::string(scheme).size());
    }
  }
  return address;
}

// The port of "host:port" / "[v6]:port"; 0 when there is none.
int PortOf(const std::string& address) {
  const std::string rest = WithoutScheme(address);
  const size_t bracket = rest.rfind(']');
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos ||
      (bracket != std::string::npos && colon < bracket)) {
    return 0;
  }
  int port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return 0;
  }
  return port;
}

}  // namespace

bool LoopbackListenerIsOurs(const std::string& server_address) {
  const int port = PortOf(server_address);
  if (port == 0) return false;
  const uid_t uid = ::geteuid();
  int ours = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    // A line is ~150 bytes; 4 MiB is ~25,000 sockets.
    auto text = ReadFileBounded(table, 4 * 1024 * 1024, "socket table");
    if (!text.ok()) {
      if (absl::IsNotFound(text.status())) continue;  // no IPv6
      return false;  // unreadable or too large: do not guess
    }
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      std::vector<absl::string_view> f =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
      if (f.size() < 8 || f[3] != "0A") continue;  // 0A: LISTEN
      const size_t colon = f[1].rfind(':');
      uint32_t local_port = 0;
      uint32_t owner = 0;
      if (colon == absl::string_view::npos ||
          !absl::SimpleHexAtoi(f[1].substr(colon + 1), &local_port) ||
          static_cast<int>(local_port) != port ||
          !absl::SimpleAtoi(f[7], &owner)) {
        continue;
      }
      if (owner != uid) return false;  // another user listens there
      ++ours;
    }
  }
  return ours > 0;
}

absl::StatusOr<std::string> DefaultAdminTokenPath() {
  auto dir = UserStateDir();
  if (!dir.ok()) return dir.status();
  return absl::StrCat(*dir, "/bootstrap-admin.token");
}

namespace {

// The token of `file` (--admin-token-file), else of the file the
// environment names. REQUIRES: one of the two is set.
absl::StatusOr<AdminToken> NamedAdminToken(const std::string& file) {
  AdminToken out;
  out.path = file.empty() ? EnvFile() : file;
  auto token = ReadTokenFile(
      out.path, file.empty() ? std::string("$") + kAdminTokenFileEnv
                             : std::string("--admin-token-file"));
  if (!token.ok()) return token.status();
  out.token = *token;
  return out;
}

}  // namespace

absl::StatusOr<AdminToken> LoadServerAdminToken(const std::string& file) {
  if (!file.empty() || !EnvFile().empty()) return NamedAdminToken(file);
  AdminToken out;
  auto path = DefaultAdminTokenPath();
  if (!path.ok()) return path.status();
  auto fresh = RandomControlToken();
  if (!fresh.ok()) return fresh.status();
  auto text = ReadOrCreateSecretFile(
      *path, kMaxTokenFileBytes, [&] { return *fresh + "\n"; },
      "bootstrap admin token");
  if (!text.ok()) return text.status();
  auto token = ParseToken(*text, *path);
  if (!token.ok()) return token.status();
  out.path = *path;
  out.token = *token;
  out.per_user = true;
  return out;
}

absl::StatusOr<AdminToken> FindAdminToken(const std::string& file,
                                          const std::string& server_address) {
  if (!file.empty() || !EnvFile().empty()) return NamedAdminToken(file);
  AdminToken out;
  if (!IsLoopbackAddress(server_address)) return out;
  const char* state = std::getenv("PEERLAB_STATE_DIR");
  const char* home = std::getenv("HOME");
  if ((state == nullptr || *state == '\0') && home == nullptr) return out;
  auto path = DefaultAdminTokenPath();
  if (!path.ok()) return out;  // no state directory: no per-user token
  struct stat st;
  if (::stat(path->c_str(), &st) != 0) return out;
  // The same checks as the server's (0600, owned by this user).
  auto text = ReadOrCreateSecretFile(
      *path, kMaxTokenFileBytes, [] { return std::string(); },
      "bootstrap admin token");
  if (!text.ok()) return text.status();
  auto token = ParseToken(*text, *path);
  if (!token.ok()) return token.status();
  // Only to a server of this user: another local user may listen on that
  // port (its own server, or one squatting it) and would learn the token.
  if (!LoopbackListenerIsOurs(server_address)) return out;
  out.path = *path;
  out.token = *token;
  out.per_user = true;
  return out;
}

bool IsLoopbackAddress(const std::string& address) {
  std::string rest = address;
  for (const char* scheme : {"dns:///", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(rest, scheme)) {
      rest = rest.substr(std::string(scheme).size());
      break;
    }
  }
  std::string host;
  if (absl::StartsWith(rest, "[")) {
    const size_t end = rest.find(']');
    if (end == std::string::npos) return false;
    host = rest.substr(1, end - 1);
  } else {
    const size_t colon = rest.rfind(':');
    host = colon == std::string::npos ? rest : rest.substr(0, colon);
  }
  host = absl::AsciiStrToLower(host);
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace peerlab::bootstrap
