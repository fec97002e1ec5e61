// End to end: every gRPC server of the project (peerlab-bootstrap,
// peerlab-coordinator, peerlab-peer's --grpc-port) as a real process on a
// free loopback port: a port in use is refused with exit code 2 while the
// first server keeps answering; connections up to the file limit leave the
// server answering once they close; SIGHUP ends the servers cleanly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"

namespace peerlab::testing {
namespace {

using ::testing::HasSubstr;

// One kind of server: its program and the arguments that make it listen on
// `listen` and write its address to `ready`.
struct ServerKind {
  std::string name;  // for test names
  std::function<std::vector<std::string>(
      const std::string& bin, const std::string& dir,
      const std::string& listen_port, const std::string& ready)>
      argv;
  bool stops_on_sighup = false;  // every one now (the peer leaves first)
};

void PrintTo(const ServerKind& kind, std::ostream* os) { *os << kind.name; }

std::vector<ServerKind> Kinds() {
  return {
      {"bootstrap",
       [](const std::string& bin, const std::string&, const std::string& port,
          const std::string& ready) {
         return std::vector<std::string>{
             bin + "/peerlab-bootstrap", "--store",      "memory:", "--listen",
             "127.0.0.1:" + port,        "--ready-file", ready};
       },
       true},
      {"coordinator",
       [](const std::string& bin, const std::string&, const std::string& port,
          const std::string& ready) {
         return std::vector<std::string>{bin + "/peerlab-coordinator",
                                         "--listen", "127.0.0.1:" + port,
                                         "--ready-file", ready};
       },
       true},
      {"peer",
       [](const std::string& bin, const std::string& dir,
          const std::string& port, const std::string& ready) {
         return std::vector<std::string>{
             bin + "/peerlab-peer", "alice",       "--serve",
             "--no-init",           "--grpc-port", port,
             "--ready-file",        ready,         "--history-file",
             dir + "/history"};
       },
       true},
  };
}

// True when the server at `address` answers a health check.
bool Answers(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(3));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok();
}

class ServersE2eTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("servers-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    auto bin = BinDir();
    ASSERT_TRUE(bin.ok()) << bin.status();
    bin_ = *bin;
  }

  // Starts the server (argv prefixed by `prefix`, e.g. prlimit) on `port`;
  // with `wait_ready`, waits for its ready file and sets `*address`.
  std::unique_ptr<Subprocess> Start(const std::string& tag,
                                    const std::string& port,
                                    std::string* address,
                                    std::vector<std::string> prefix = {}) {
    const std::string ready = dir_->File(tag + ".ready");
    std::vector<std::string> argv =
        GetParam().argv(bin_, dir_->path(), port, ready);
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
    auto process =
        Subprocess::Start({.argv = argv,
                           .env = {{"HOME", dir_->path()}},
                           .stdout_path = dir_->File(tag + ".stdout"),
                           .stderr_path = dir_->File(tag + ".stderr")});
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    if (address != nullptr) {
      auto line = WaitForFileLine(ready, absl::Seconds(30), process->get());
      EXPECT_TRUE(line.ok()) << line.status();
      if (!line.ok()) return nullptr;
      *address = std::string(absl::StripAsciiWhitespace(*line));
    }
    return *std::move(process);
  }

  std::unique_ptr<TempDir> dir_;
  std::string bin_;
};

TEST_P(ServersE2eTest, APortInUseIsRefusedWithExitCode2) {
  std::string address;
  auto first = Start("first", "0", &address);
  ASSERT_NE(first, nullptr);
  const std::string port = address.substr(address.rfind(':') + 1);
  auto second = Start("second", port, nullptr);
  ASSERT_NE(second, nullptr);
  auto exit = second->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << "the second server still runs on port " << port;
  EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString();
  EXPECT_THAT(second->ReadStderr(), HasSubstr("already in use"));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Answers(address));
  EXPECT_TRUE(first->Running());
}

TEST_P(ServersE2eTest, AnswersAfterConnectionsUpToTheFileLimitClose) {
  constexpr int kLimit = 64;
  std::string address;
  auto server = Start(
      "limited", "0", &address,
      {"/usr/bin/prlimit", absl::StrCat("--nofile=", kLimit, ":", kLimit)});
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(Answers(address));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  for (int i = 0; i < 3 * kLimit; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  // Let the server take every connection off its queue (it answers a
  // connection-level question only once it has): a health check on a new
  // connection goes through or fails, either is fine meanwhile.
  Answers(address);
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(Eventually([&] { return Answers(address); }, absl::Seconds(15)))
      << "no answer after " << fds.size() << " connections closed\n"
      << server->ReadStderr();
  EXPECT_TRUE(server->Running());
}

TEST_P(ServersE2eTest, SighupStopsTheServerCleanly) {
  if (!GetParam().stops_on_sighup) GTEST_SKIP() << "no SIGHUP handling";
  std::string address;
  auto server = Start("hup", "0", &address);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->Signal(SIGHUP).ok());
  auto exit = server->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_THAT(server->ReadStderr(), HasSubstr("stopped"));
}

TEST_P(ServersE2eTest, AKeyOfAnotherCertificateIsNamedAndExitsTwo) {
  const std::string certs = dir_->File("certs");
  const std::string cmd =
      absl::StrCat(PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ", certs,
                   " server:127.0.0.1 client:127.0.0.1 > /dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string ready = dir_->File("mismatch.ready");
  std::vector<std::string> argv =
      GetParam().argv(bin_, dir_->path(), "0", ready);
  for (const std::string& arg :
       {std::string("--tls-cert"), certs + "/server.crt",
        std::string("--tls-key"), certs + "/client.key"}) {
    argv.push_back(arg);
  }
  auto process = Subprocess::Start({.argv = argv,
                                    .env = {{"HOME", dir_->path()}},
                                    .stderr_path = dir_->File("mm.stderr")});
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString();
  EXPECT_THAT((*process)->ReadStderr(),
              HasSubstr("is not the key of the certificate"));
}

INSTANTIATE_TEST_SUITE_P(AllServers, ServersE2eTest,
                         ::testing::ValuesIn(Kinds()),
                         [](const ::testing::TestParamInfo<ServerKind>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace peerlab::testing
