#include "base/testing/peer_process.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/control_token.h"

namespace peerlab::testing {

namespace pb = ::peer::v1;

namespace {

// The test process's token file, removed when the process ends.
struct TestToken {
  std::string dir, path, token;
  ~TestToken() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

const TestToken& GetTestToken() {
  static TestToken* token = [] {
    auto* t = new TestToken;
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = absl::StrCat(tmp && *tmp ? tmp : "/tmp",
                                    "/peerlab-test-control-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) return t;  // no token: refused
    t->dir = tmpl;
    t->path = tmpl + "/control.token";
    std::random_device random;
    t->token = "test-";
    for (int i = 0; i < 4; ++i) absl::StrAppend(&t->token, absl::Hex(random()));
    std::ofstream(t->path) << t->token << "\n";
    ::chmod(t->path.c_str(), 0600);
    static TestToken remover;  // removes the directory at exit
    remover.dir = t->dir;
    return t;
  }();
  return *token;
}

}  // namespace

const std::string& TestControlTokenFile() { return GetTestToken().path; }
const std::string& TestControlToken() { return GetTestToken().token; }

std::shared_ptr<grpc::Channel> NewPeerChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return NewChannelWithToken(address, std::move(credentials),
                             TestControlToken(), args);
}

Subprocess::Options PeerProcessOptions(const std::string& bin_dir,
                                       const std::string& dir,
                                       const std::string& name,
                                       const std::vector<std::string>& args) {
  const std::string base = absl::StrCat(dir, "/", name);
  Subprocess::Options o;
  o.argv = {absl::StrCat(bin_dir, "/peerlab-peer"),
            name,
            "--ready-file",
            base + ".ready",
            "--log-file",
            base + ".log"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdout_path = base + ".stdout";
  o.stderr_path = base + ".stderr";
  o.env["HOME"] = dir;
  o.env[kControlTokenFileEnv] = TestControlTokenFile();
  return o;
}

absl::StatusOr<PeerProcess> StartPeerProcess(
    const std::string& dir, const std::string& name,
    const std::vector<std::string>& args, absl::Duration timeout) {
  auto bin = BinDir();
  if (!bin.ok()) return bin.status();
  auto process = Subprocess::Start(PeerProcessOptions(*bin, dir, name, args));
  if (!process.ok()) return process.status();
  PeerProcess peer;
  peer.process = *std::move(process);
  auto ready = WaitForFileLine(absl::StrCat(dir, "/", name, ".ready"), timeout,
                               peer.process.get());
  if (!ready.ok()) return ready.status();
  peer.address = std::string(absl::StripAsciiWhitespace(*ready));
  return peer;
}

grpc::Status ExecuteLine(pb::PeerControl::Stub& stub, const std::string& line,
                         pb::ExecuteResponse* response, absl::Duration timeout,
                         const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(timeout));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  pb::ExecuteRequest request;
  request.set_line(line);
  return stub.Execute(&context, request, response);
}

pb::ExecuteResponse ExecuteOrError(pb::PeerControl::Stub& stub,
                                   const std::string& line,
                                   absl::Duration timeout) {
  pb::ExecuteResponse response;
  grpc::Status s = ExecuteLine(stub, line, &response, timeout);
  if (!s.ok()) {
    response.set_code(s.error_code());
    response.set_message("RPC: " + s.error_message());
  }
  return response;
}

std::vector<std::string> OutputTexts(const pb::ExecuteResponse& r) {
  std::vector<std::string> out;
  for (const auto& l : r.output()) out.push_back(l.text());
  return out;
}

ViewWatcher::ViewWatcher(pb::PeerControl::Stub* stub,
                         const pb::WatchViewsRequest& request) {
  reader_ = stub->WatchViews(&context_, request);
  thread_ = std::thread([this] {
    pb::WatchViewsResponse message;
    while (reader_->Read(&message)) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& l : message.lines()) lines_.push_back(l);
      cv_.notify_all();
    }
    grpc::Status status = reader_->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    status_ = status;
    cv_.notify_all();
  });
}

ViewWatcher::~ViewWatcher() {
  context_.TryCancel();
  thread_.join();
}

std::vector<pb::ViewLine> ViewWatcher::lines() {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

bool ViewWatcher::WaitUntil(
    const std::function<bool(const std::vector<pb::ViewLine>&)>& pred,
    absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return pred(lines_); });
}

std::optional<grpc::Status> ViewWatcher::WaitForEnd(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                    [&] { return finished_; })) {
    return std::nullopt;
  }
  return status_;
}

}  // namespace peerlab::testing
