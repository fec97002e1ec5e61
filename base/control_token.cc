#include "base/control_token.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/bounded_file.h"
#include "base/state_dir.h"
#include "base/token_file.h"
#include "grpcpp/support/client_interceptor.h"

namespace peerlab {
namespace {

constexpr size_t kMaxComponentBytes = 200;

// NAME as one path component (see NodeControlTokenPath).
std::string Component(std::string_view name) {
  if (name != "." && name != ".." && name.size() <= kMaxComponentBytes &&
      name.find('/') == std::string_view::npos &&
      name.find('\0') == std::string_view::npos) {
    return std::string(name);
  }
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool plain =
        absl::ascii_isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0);
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RandomControlToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  std::string token;
  for (unsigned char b : bytes) absl::StrAppendFormat(&token, "%02x", b);
  return token;
}

absl::StatusOr<std::string> ReadOrCreateControlTokenFile(
    const std::string& path) {
  absl::StatusOr<std::string> fresh = RandomControlToken();
  if (!fresh.ok()) return fresh.status();
  absl::StatusOr<std::string> text = ReadOrCreateSecretFile(
      path, kMaxTokenFileBytes, [&] { return *fresh + "\n"; }, "control token");
  if (!text.ok()) return text.status();
  return ParseToken(*text, path);
}

namespace {

// Adds "authorization: Bearer TOKEN" to calls that carry none.
class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      auto* metadata = methods->GetSendInitialMetadata();
      if (metadata->find("authorization") == metadata->end()) {
        metadata->emplace("authorization", *header_);
      }
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;  // owned by the factory
};

class BearerInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::string> NodeControlTokenPath(std::string_view name,
                                                 const std::string& state_dir) {
  return NodeStateFilePath(name, "control.token", state_dir);
}

absl::StatusOr<std::string> NodeStateFilePath(std::string_view name,
                                              std::string_view file,
                                              const std::string& state_dir) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a peer name is needed for its ", std::string(file)));
  }
  std::string component = Component(name);
  if (component.size() > kMaxComponentBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("the name \"", std::string(name),
                     "\" is too long for a per-node file (", std::string(file),
                     "); give the peer --control-token-file FILE"));
  }
  absl::StatusOr<std::string> state = state_dir;
  if (state_dir.empty()) {
    state = UserStateDir();
  } else if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    state = absl::FailedPreconditionError(
        absl::StrCat("cannot create state directory ", state_dir, ": ",
                     std::strerror(errno)));
  }
  if (!state.ok()) return state.status();
  absl::StatusOr<std::string> nodes = PrivateSubdirectory(*state, "nodes");
  if (!nodes.ok()) return nodes.status();
  absl::StatusOr<std::string> node = PrivateSubdirectory(*nodes, component);
  if (!node.ok()) return node.status();
  return absl::StrCat(*node, "/", std::string(file));
}

absl::StatusOr<std::unique_ptr<NodeControlToken>> NodeControlToken::Create(
    std::string_view name, const std::string& state_dir) {
  absl::StatusOr<std::string> path = NodeControlTokenPath(name, state_dir);
  if (!path.ok()) return path.status();
  absl::StatusOr<std::string> fresh = RandomControlToken();
  if (!fresh.ok()) return fresh.status();
  // A fresh token at every start: the file of an earlier run goes first.
  if (::unlink(path->c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot replace the control token file ", *path, ": ",
                     std::strerror(errno)));
  }
  // Race-free create; when another start of the same name won the race,
  // both use its token.
  absl::StatusOr<std::string> text = ReadOrCreateSecretFile(
      *path, kMaxTokenFileBytes, [&] { return *fresh + "\n"; },
      "control token");
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> token = ParseToken(*text, *path);
  if (!token.ok()) return token.status();
  return std::unique_ptr<NodeControlToken>(
      new NodeControlToken(*std::move(path), *std::move(token)));
}

NodeControlToken::~NodeControlToken() {
  absl::StatusOr<std::string> token = ReadTokenFile(path_, "control token");
  if (token.ok() && *token == token_) ::unlink(path_.c_str());
}

absl::StatusOr<ControlToken> FindControlToken(const std::string& token_file,
                                              const std::string& peer_name) {
  std::string path = token_file;
  std::string what = "--control-token-file";
  if (path.empty()) {
    const char* env = std::getenv(kControlTokenFileEnv);
    if (env != nullptr && *env != '\0') {
      path = env;
      what = std::string("$") + kControlTokenFileEnv;
    }
  }
  if (path.empty() && !peer_name.empty()) {
    absl::StatusOr<std::string> node = NodeControlTokenPath(peer_name);
    struct stat st;
    if (node.ok() && ::stat(node->c_str(), &st) == 0) {
      path = *node;
      what = absl::StrCat("the token file of peer ", peer_name);
    }
  }
  if (path.empty()) return ControlToken{};
  absl::StatusOr<std::string> token = ReadTokenFile(path, what);
  if (!token.ok()) return token.status();
  return ControlToken{*std::move(token), path};
}

std::shared_ptr<grpc::Channel> NewChannelWithToken(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::string& token, const grpc::ChannelArguments& args) {
  if (token.empty()) {
    return grpc::CreateCustomChannel(address, std::move(credentials), args);
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<BearerInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, std::move(credentials), args, std::move(interceptors));
}

}  // namespace peerlab
