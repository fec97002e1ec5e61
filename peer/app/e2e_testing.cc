#include "peer/app/e2e_testing.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/bounded_file.h"
#include "base/state_dir.h"
#include "base/uuid.h"

namespace peerlab::peer::e2e {

namespace pb = ::peer::v1;

::testing::AssertionResult ShareGroupKey(const std::string& from_home,
                                         const std::string& to_home) {
  const std::string rel = "/.local/state/peerlab/gossip.keys";
  auto key = ReadFileBounded(from_home + rel, 64 * 1024, "gossip key file");
  if (!key.ok()) return ::testing::AssertionFailure() << key.status();
  std::string dir = to_home;
  for (const char* part : {"/.local", "/state", "/peerlab"}) {
    dir += part;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return ::testing::AssertionFailure()
             << "mkdir " << dir << ": " << std::strerror(errno);
    }
  }
  const std::string path = to_home + rel;
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return ::testing::AssertionFailure()
           << "open " << path << ": " << std::strerror(errno);
  }
  const bool written = ::write(fd, key->data(), key->size()) ==
                       static_cast<ssize_t>(key->size());
  ::close(fd);
  if (!written) return ::testing::AssertionFailure() << "write " << path;
  return ::testing::AssertionSuccess();
}

std::string ShellQuote(absl::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool WaitForText(testing::ViewWatcher& watch, const std::string& text,
                 absl::Duration timeout) {
  return watch.WaitUntil(
      [&](const std::vector<pb::ViewLine>& lines) {
        for (const auto& l : lines) {
          if (l.text() == text) return true;
        }
        return false;
      },
      timeout);
}

WatchedPeer::WatchedPeer(std::unique_ptr<testing::Subprocess> process,
                         const std::string& address)
    : process_(std::move(process)),
      stub_(pb::PeerControl::NewStub(testing::NewPeerChannel(address))) {
  pb::WatchViewsRequest request;
  request.set_include_history(true);
  watcher_ = std::make_unique<testing::ViewWatcher>(stub_.get(), request);
}

pb::ExecuteResponse WatchedPeer::Execute(const std::string& line) {
  return testing::ExecuteOrError(*stub_, line, absl::Seconds(30));
}

std::string WatchedPeer::Text(const pb::ExecuteResponse& r) {
  return absl::StrJoin(testing::OutputTexts(r), "\n");
}

std::vector<std::string> WatchedPeer::Lines(const std::string& view) {
  std::vector<std::string> out;
  for (const auto& l : watcher_->lines()) {
    if (l.view() == view) out.push_back(l.text());
  }
  return out;
}

std::vector<std::string> WatchedPeer::Lines(const std::string& view,
                                            const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : Lines(view)) {
    if (absl::StartsWith(l, prefix)) out.push_back(l);
  }
  return out;
}

bool WatchedPeer::WaitForLine(const std::string& view, const std::string& text,
                              absl::Duration timeout) {
  return watcher_->WaitUntil(
      [&](const std::vector<pb::ViewLine>& lines) {
        for (const auto& l : lines) {
          if (l.view() == view && l.text() == text) return true;
        }
        return false;
      },
      timeout);
}

bool WatchedPeer::WaitForCount(const std::string& view,
                               const std::string& prefix, size_t n,
                               absl::Duration timeout) {
  return watcher_->WaitUntil(
      [&](const std::vector<pb::ViewLine>& lines) {
        size_t count = 0;
        for (const auto& l : lines) {
          if (l.view() == view && absl::StartsWith(l.text(), prefix)) {
            ++count;
          }
        }
        return count >= n;
      },
      timeout);
}

void PeerE2eTest::CreateDir(const std::string& prefix) {
  auto dir = testing::TempDir::Create(prefix);
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_ = *std::move(dir);
  auto bin = testing::BinDir();
  ASSERT_TRUE(bin.ok()) << bin.status();
  bin_ = *bin;
}

void PeerE2eTest::StartBootstrap(const std::vector<std::string>& args) {
  // The bootstrap admin token, handed to the peers this test starts (they
  // inherit $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE) for the upkeep of departed
  // peers' entries, which the service lets only the admin change.
  std::vector<std::string> full = args;
  if (std::find(args.begin(), args.end(), "--admin-token-file") == args.end()) {
    admin_token_file_ = dir_->File("bootstrap-admin-token");
    auto token = ReadOrCreateSecretFile(
        admin_token_file_, 4096,
        [] { return absl::StrCat(NewUuid(), NewUuid(), "\n"); },
        "bootstrap admin token");
    ASSERT_TRUE(token.ok()) << token.status();
    full.push_back("--admin-token-file");
    full.push_back(admin_token_file_);
    // bootstrap_host.h: kBootstrapAdminTokenFileEnv.
    ASSERT_EQ(::setenv("PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE",
                       admin_token_file_.c_str(), 1),
              0);
  }
  auto server = testing::StartBootstrapServer(dir_->path(), full);
  ASSERT_TRUE(server.ok()) << server.status();
  bootstrap_ = *std::move(server);
}

void PeerE2eTest::SetUpBootstrap(const std::string& prefix,
                                 const std::vector<std::string>& args) {
  ASSERT_NO_FATAL_FAILURE(CreateDir(prefix));
  ASSERT_NO_FATAL_FAILURE(StartBootstrap(args));
}

void PeerE2eTest::WriteConfig(const std::string& contents) {
  config_ = dir_->File("fast.json");
  ASSERT_TRUE(testing::WriteFile(config_, contents).ok());
}

std::unique_ptr<WatchedPeer> PeerE2eTest::StartWatchedPeer(
    const std::string& name, const std::vector<std::string>& args,
    absl::Duration timeout) {
  auto started = testing::StartPeerProcess(dir_->path(), name, args, timeout);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return nullptr;
  return std::make_unique<WatchedPeer>(std::move(started->process),
                                       started->address);
}

}  // namespace peerlab::peer::e2e
