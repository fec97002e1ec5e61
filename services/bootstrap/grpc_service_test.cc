// BootstrapGrpcService's bounds on Watch streams, over a real in-process
// gRPC server on a free loopback port.
#include "services/bootstrap/grpc_service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/bootstrap/bootstrap_service.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/memory_store.h"
#include "base/clock.h"
#include "base/testing/eventually.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::Eventually;

namespace pb = ::bootstrap::v1;
using ::testing::HasSubstr;

class WatchLimitsTest : public ::testing::Test {
 protected:
  void Start(BootstrapGrpcService::Options options, uint32_t max_peers = 500,
             bool join_limit = false) {
    pb::Config config;
    config.set_max_peers(max_peers);
    store_ = std::make_unique<MemoryStore>(NewDocument(config));
    BootstrapService::Options service_options;
    service_options.sweep_interval = absl::ZeroDuration();
    service_options.admin_token = "watch-admin";
    if (!join_limit) {
      service_options.join_limit.rate = 0;  // Fill() floods
    } else {
      // Small, so that a slow machine cannot refill the bucket in time.
      service_options.join_limit = {.rate = 1, .burst = 20};
    }
    service_ = std::make_unique<BootstrapService>(store_.get(), &Clock::Real(),
                                                  service_options);
    grpc_ = std::make_unique<BootstrapGrpcService>(service_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(grpc_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr && port != 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }

  void TearDown() override {
    if (!server_) return;
    grpc_->EndWatches();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
    server_->Wait();
  }

  // A new channel each: a stalled stream must not hold up the others.
  std::unique_ptr<pb::BootstrapData::Stub> NewStub() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return pb::BootstrapData::NewStub(grpc::CreateCustomChannel(
        address_, grpc::InsecureChannelCredentials(), args));
  }

  // Joins `n` peers with long fields, so that each document is large.
  void Fill(int n) {
    for (int i = 0; i < n; ++i) {
      pb::JoinRequest request;
      pb::Peer* p = request.mutable_peer();
      p->set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", i));
      p->set_name(absl::StrCat(std::string(100, 'n'), i));
      p->set_host("peer.example.org");
      p->set_port(7946);
      p->set_protocol(pb::PROTOCOL_UDP);
      p->set_status(std::string(60, 's'));
      absl::Notification done;
      service_->Join(request, [&](absl::StatusOr<pb::JoinResponse> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        done.Notify();
      });
      done.WaitForNotification();
    }
  }

  // One change of the (large) document.
  void Change() {
    pb::UpdateConfigRequest request;
    request.set_min_refill_candidates(++changes_ % 100);
    absl::Notification done;
    service_->UpdateConfig(request, "watch-admin",
                           [&](absl::StatusOr<pb::UpdateConfigResponse> r) {
                             EXPECT_TRUE(r.ok()) << r.status();
                             done.Notify();
                           });
    done.WaitForNotification();
  }

  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<BootstrapService> service_;
  std::unique_ptr<BootstrapGrpcService> grpc_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int changes_ = 0;
};

struct OpenWatch {
  std::unique_ptr<pb::BootstrapData::Stub> stub;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<pb::WatchResponse>> reader;
};

// Opens a Watch stream on `stub` (which the result keeps).
OpenWatch OpenWatchStream(std::unique_ptr<pb::BootstrapData::Stub> stub) {
  OpenWatch w;
  w.stub = std::move(stub);
  w.context = std::make_unique<grpc::ClientContext>();
  w.reader = w.stub->Watch(w.context.get(), pb::WatchRequest());
  return w;
}

// Issue 12: a watcher that never reads is ended with ABORTED once its queue
// passes the byte bound, instead of queueing hundreds of whole documents;
// the status says what to do.
TEST_F(WatchLimitsTest, StalledWatcherIsDroppedWithAnActionableStatus) {
  Start({.max_watchers = 4, .max_queued_bytes = 256 * 1024});
  Fill(300);  // documents of about 60 KB
  OpenWatch w = OpenWatchStream(NewStub());
  ASSERT_TRUE(Eventually([&] { return grpc_->watchers() == 1; }));
  // The client reads nothing while the document changes.
  ASSERT_TRUE(Eventually(
      [&] {
        Change();
        return grpc_->watchers_dropped() == 1;
      },
      absl::Seconds(30)))
      << "a watcher that never reads was not dropped after " << changes_
      << " changes";
  std::cout << "dropped after " << changes_ << " changes\n";
  // Now it reads: what was sent, then the status.
  pb::WatchResponse response;
  int read = 0;
  while (w.reader->Read(&response)) ++read;
  grpc::Status status = w.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("fell behind"));
  EXPECT_THAT(status.error_message(), HasSubstr("re-Watch"));
  std::cout << read << " documents read, then: " << status.error_message()
            << "\n";
  EXPECT_TRUE(Eventually([&] { return grpc_->watchers() == 0; }));
}

// A reader that takes nothing at all cannot keep its slot (and the document
// in flight) for ever: once a write has waited max_write_stall, the stream
// is cancelled.
TEST_F(WatchLimitsTest, StalledWatcherIsCancelledAndFreesItsSlot) {
  Start({.max_watchers = 1,
         .max_queued_bytes = 512 << 20,
         .max_write_stall = absl::Milliseconds(300),
         .stall_check = absl::Milliseconds(50)});
  Fill(300);
  OpenWatch w = OpenWatchStream(NewStub());
  ASSERT_TRUE(Eventually([&] { return grpc_->watchers() == 1; }));
  // Changes until a write stalls; then no more: only the stall remains.
  ASSERT_TRUE(Eventually(
      [&] {
        Change();
        return grpc_->watchers_cancelled() == 1;
      },
      absl::Seconds(30)))
      << "a reader that takes nothing kept its stream";
  EXPECT_EQ(grpc_->watchers_dropped(), 0u);
  ASSERT_TRUE(Eventually([&] { return grpc_->watchers() == 0; }));
  OpenWatch next = OpenWatchStream(NewStub());
  pb::WatchResponse response;
  EXPECT_TRUE(next.reader->Read(&response));
  next.context->TryCancel();
}

TEST_F(WatchLimitsTest, WatchersBeyondTheCapAreRefused) {
  Start({.max_watchers = 2, .max_queued_bytes = 1 << 20});
  std::vector<OpenWatch> open(2);
  for (OpenWatch& w : open) {
    w = OpenWatchStream(NewStub());
    pb::WatchResponse first;
    ASSERT_TRUE(w.reader->Read(&first));
  }
  OpenWatch extra = OpenWatchStream(NewStub());
  pb::WatchResponse response;
  EXPECT_FALSE(extra.reader->Read(&response));
  grpc::Status status = extra.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("Watch"));
  EXPECT_EQ(grpc_->watchers_refused(), 1u);

  // A slot frees when a watcher goes.
  open[0].context->TryCancel();
  (void)open[0].reader->Finish();
  ASSERT_TRUE(Eventually([&] { return grpc_->watchers() == 1; }));
  OpenWatch again = OpenWatchStream(NewStub());
  EXPECT_TRUE(again.reader->Read(&response));
}

// Issue 13 over gRPC: a second client (its own channel) cannot rewrite or
// remove another's entry by its public id; the secret hash never leaves the
// server; a join flood from one address is refused with the retry time.
using EntryOwnershipGrpcTest = WatchLimitsTest;

pb::JoinRequest JoinOf(int n) {
  pb::JoinRequest request;
  pb::Peer* p = request.mutable_peer();
  p->set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", n));
  p->set_name(absl::StrCat("peer", n));
  p->set_host("127.0.0.1");
  p->set_port(7000 + n);
  p->set_protocol(pb::PROTOCOL_UDP);
  return request;
}

TEST_F(EntryOwnershipGrpcTest, ASecondClientCannotRewriteOrRemoveAnEntry) {
  Start({}, /*max_peers=*/3, /*join_limit=*/true);
  auto owner = NewStub();
  auto other = NewStub();
  pb::JoinResponse joined;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(owner->Join(&context, JoinOf(1), &joined).ok());
  }
  ASSERT_TRUE(joined.joined());
  EXPECT_GE(joined.secret().size(), 32u);
  pb::ListResponse listed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(other->List(&context, pb::ListRequest(), &listed).ok());
  }
  ASSERT_EQ(listed.document().peers_size(), 1);
  const pb::Peer& seen = listed.document().peers(0);
  EXPECT_TRUE(seen.owner_secret_sha256().empty());
  EXPECT_TRUE(seen.has_first_seen_at());

  pb::JoinRequest hijack = JoinOf(1);
  hijack.mutable_peer()->set_host("10.6.6.6");
  pb::JoinResponse hijacked;
  grpc::ClientContext c1;
  EXPECT_EQ(other->Join(&c1, hijack, &hijacked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  pb::LeaveRequest leave;
  leave.set_id(seen.id());
  pb::LeaveResponse left;
  grpc::ClientContext c2;
  EXPECT_EQ(other->Leave(&c2, leave, &left).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  leave.set_secret(std::string(64, 'x'));
  grpc::ClientContext c3;
  EXPECT_EQ(other->Leave(&c3, leave, &left).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The owner, with its secret.
  leave.set_secret(joined.secret());
  grpc::ClientContext c4;
  ASSERT_TRUE(owner->Leave(&c4, leave, &left).ok());
  EXPECT_TRUE(left.removed());
}

TEST_F(EntryOwnershipGrpcTest, AJoinFloodIsRefusedWithTheRetryTime) {
  Start({}, /*max_peers=*/3, /*join_limit=*/true);
  auto stub = NewStub();
  int refused = 0;
  std::string message;
  for (int i = 0; i < 400; ++i) {
    pb::JoinResponse r;
    grpc::ClientContext context;
    grpc::Status s = stub->Join(&context, JoinOf(i), &r);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      message = s.error_message();
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  EXPECT_GE(refused, 300);
  EXPECT_THAT(message, HasSubstr("too many joins from 127.0.0.1"));
  EXPECT_THAT(message, HasSubstr("retry in"));
  EXPECT_GT(service_->joins_refused(), 0u);
}

}  // namespace
}  // namespace peerlab::bootstrap
