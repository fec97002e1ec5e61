// The one place where absl::Status and grpc::Status are converted.
#ifndef PEERLAB_BASE_GRPC_STATUS_H_
#define PEERLAB_BASE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace peerlab {

// Same code, same message. Codes share their numbers in both libraries.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace peerlab

#endif  // PEERLAB_BASE_GRPC_STATUS_H_
