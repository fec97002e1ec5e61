#include "peer/membership/real/membership_stream_service.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "base/grpc_status.h"

namespace peerlab::membership {

namespace {

constexpr size_t kMaxAddressMetadata = 256;

std::string Metadata(const grpc::CallbackServerContext& context,
                     const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end() || it->second.size() > kMaxAddressMetadata) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

// Unanswered calls, by id. Every call is finished exactly once: whoever
// removes its entry (an answer, a cancellation, a detach) finishes it.
class MembershipStreamService::CallTable {
 public:
  uint64_t NextId() {
    std::lock_guard<std::mutex> lock(mu_);
    return next_id_++;
  }

  void Add(uint64_t id, grpc::ServerUnaryReactor* reactor,
           ::peer::v1::ReliableResponse* response) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.emplace(id, Entry{reactor, response});
  }

  void Complete(uint64_t id, absl::StatusOr<::peer::v1::ReliableResponse> r) {
    Entry entry;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = calls_.find(id);
      if (it == calls_.end()) return;
      entry = it->second;
      calls_.erase(it);
    }
    Finish(entry, std::move(r));
  }

  void CompleteAll(const absl::Status& status) {
    std::map<uint64_t, Entry> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls.swap(calls_);
    }
    for (auto& [id, entry] : calls) Finish(entry, status);
  }

 private:
  struct Entry {
    grpc::ServerUnaryReactor* reactor = nullptr;
    ::peer::v1::ReliableResponse* response = nullptr;
  };

  static void Finish(const Entry& entry,
                     absl::StatusOr<::peer::v1::ReliableResponse> r) {
    if (r.ok()) {
      *entry.response = std::move(*r);
      entry.reactor->Finish(grpc::Status::OK);
    } else {
      entry.reactor->Finish(ToGrpcStatus(r.status()));
    }
  }

  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Entry> calls_;
};

// One call. A cancelled call (client deadline, client gone, server
// shutdown) is finished at once; a later answer is then a no-op.
class MembershipStreamService::Reactor final : public grpc::ServerUnaryReactor {
 public:
  Reactor(std::shared_ptr<CallTable> table, uint64_t id)
      : table_(std::move(table)), id_(id) {}

  void OnCancel() override {
    table_->Complete(id_, absl::CancelledError("call cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<CallTable> table_;
  const uint64_t id_;
};

MembershipStreamService::MembershipStreamService()
    : calls_(std::make_shared<CallTable>()) {}

MembershipStreamService::~MembershipStreamService() {
  calls_->CompleteAll(absl::UnavailableError("membership service stopped"));
}

void MembershipStreamService::Attach(Sink* sink) {
  absl::WriterMutexLock lock(&mu_);
  sink_ = sink;
}

void MembershipStreamService::Detach(Sink* sink) {
  absl::WriterMutexLock lock(&mu_);
  if (sink_ != sink) return;
  sink_ = nullptr;
  calls_->CompleteAll(
      absl::UnavailableError("the membership on this peer shut down"));
}

grpc::ServerUnaryReactor* MembershipStreamService::Exchange(
    grpc::CallbackServerContext* context,
    const ::peer::v1::ReliableRequest* request,
    ::peer::v1::ReliableResponse* response) {
  const uint64_t id = calls_->NextId();
  auto* reactor = new Reactor(calls_, id);
  calls_->Add(id, reactor, response);

  Caller caller{.member_addr = Metadata(*context, kMemberAddrMetadata),
                .grpc_addr = Metadata(*context, kGrpcAddrMetadata)};
  if (caller.member_addr.empty()) {
    // Not a peerlab transport (grpcurl, a test): the TCP peer is the best
    // name there is. "ipv4:127.0.0.1:5000" -> "127.0.0.1:5000".
    caller.member_addr = context->peer();
    if (absl::StartsWith(caller.member_addr, "ipv4:")) {
      caller.member_addr.erase(0, 5);
    }
  }

  {
    absl::ReaderMutexLock lock(&mu_);
    if (sink_ != nullptr) {
      std::shared_ptr<CallTable> table = calls_;
      sink_->OnExchange(
          caller, *request,
          [table, id](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            table->Complete(id, std::move(r));
          });
      return reactor;
    }
  }
  calls_->Complete(
      id, absl::UnavailableError("no membership is running on this peer"));
  return reactor;
}

}  // namespace peerlab::membership
