#include "base/grpc_status.h"

#include "gtest/gtest.h"

namespace peerlab {
namespace {

TEST(GrpcStatusTest, RoundTripsEveryCode) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code),
                   code == 0 ? "" : "message");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
}

TEST(GrpcStatusTest, KeepsMessage) {
  grpc::Status g = ToGrpcStatus(absl::InvalidArgumentError("peer.port: 0"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "peer.port: 0");
}

}  // namespace
}  // namespace peerlab
