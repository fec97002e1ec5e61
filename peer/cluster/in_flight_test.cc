#include "peer/cluster/in_flight.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::cluster {
namespace {

TEST(InFlightLimitTest, SlotsAreFreedByTheirDoneOrItsDestruction) {
  auto limit = std::make_unique<InFlightLimit>(2);
  std::vector<absl::Status> seen;
  auto a = limit->Take([&seen](absl::Status s) { seen.push_back(s); });
  auto b = limit->Take();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(limit->Take(), nullptr);
  EXPECT_EQ(limit->in_flight(), 2u);
  a(absl::UnavailableError("gone"));  // frees it, then passes the status on
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(seen[0]));
  EXPECT_EQ(limit->in_flight(), 1u);
  a(absl::OkStatus());  // a second call frees nothing more
  EXPECT_EQ(limit->in_flight(), 1u);
  b = nullptr;  // a send that dropped its done uncalled
  EXPECT_EQ(limit->in_flight(), 0u);
  auto c = limit->Take();
  ASSERT_NE(c, nullptr);
  limit.reset();  // the slot outlives the limit
  c(absl::OkStatus());
}

}  // namespace
}  // namespace peerlab::cluster
