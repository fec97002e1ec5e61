#include "peer/runtime/completion.h"

#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "peer/runtime/event_loop.h"

namespace peerlab::runtime {
namespace {

TEST(CompletionTest, ValueFromAnotherThread) {
  Completion<int> done("sum");
  std::thread t([cb = done.Callback()] { cb(42); });
  absl::StatusOr<int> r = done.Wait();
  t.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(done.completed());
  EXPECT_FALSE(done.dropped());
}

TEST(CompletionTest, StatusAndStatusOrAreFlattened) {
  Completion<absl::Status> status("op");
  status.Callback()(absl::NotFoundError("nope"));
  EXPECT_EQ(status.Wait().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(status.completed());

  Completion<absl::StatusOr<std::string>> value("op");
  value.Callback()(std::string("yes"));
  absl::StatusOr<std::string> r = value.Wait();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "yes");

  Completion<void> nothing("op");
  nothing.Callback()();
  EXPECT_TRUE(nothing.Wait().ok());
}

TEST(CompletionTest, DroppedCallbackWakesTheWaiterWithCancelled) {
  Completion<absl::Status> done("leave");
  {
    auto cb = done.Callback();
    auto copy = cb;  // copies share the guard: dropped once both are gone
  }
  const absl::Status s = done.Wait();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_NE(s.message().find("leave"), absl::string_view::npos) << s;
  EXPECT_TRUE(done.dropped());
  EXPECT_FALSE(done.completed());
}

TEST(CompletionTest, DroppedOnAStoppedLoop) {
  Completion<absl::StatusOr<int>> done("join");
  EventLoop loop("completion");
  loop.Stop();
  loop.Post([cb = done.Callback()] { cb(1); });  // dropped: loop stopped
  EXPECT_EQ(done.Wait().status().code(), absl::StatusCode::kCancelled);
}

TEST(CompletionTest, OnlyTheFirstCallCounts) {
  Completion<int> done("op");
  auto cb = done.Callback();
  cb(1);
  cb(2);
  EXPECT_EQ(*done.Wait(), 1);
  // The value is moved out by the first Wait.
  EXPECT_EQ(done.Wait().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CompletionTest, DeadlinePasses) {
  Completion<int> done("slow");
  auto cb = done.Callback();  // kept alive, never called
  const absl::Time start = absl::Now();
  EXPECT_EQ(done.WaitFor(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  // A late answer is still taken by a later Wait.
  cb(5);
  EXPECT_EQ(*done.WaitFor(absl::ZeroDuration()), 5);
}

TEST(CompletionTest, CallingAfterTheWaiterIsGoneIsSafe) {
  std::function<void(int)> cb;
  {
    Completion<int> done("op");
    cb = done.Callback();
  }
  cb(3);  // the slot is shared: no dangling reference
}

}  // namespace
}  // namespace peerlab::runtime
