#include "test-harness/coordinator/coordinator_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "test-harness/coordinator/lab_auth.h"
#include "test-harness/script/script.h"

namespace peerlab::harness {
namespace {

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status NoRun(const std::string& id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no run ", id));
}

bool IsValidRunId(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return id != "." && id != "..";
}

}  // namespace

// One peer's Register stream: the accepted message, then nothing until the
// peer goes (OnCancel) or the coordinator shuts down.
class RegisterReactor
    : public grpc::ServerWriteReactor<::harness::v1::RegisterResponse> {
 public:
  // `generation`: the registry's, already recorded.
  RegisterReactor(CoordinatorService* service,
                  const ::harness::v1::RegisterRequest& request,
                  uint64_t generation)
      : service_(service), name_(request.name()), generation_(generation) {
    spdlog::info(
        "peer {} registered: {} (pid {}, version {}, generation {}, start {})",
        name_, request.control_address(), request.pid(), request.version(),
        request.peer_generation(), generation_);
    response_.set_accepted(true);
    response_.set_generation(generation_);
    StartWrite(&response_);
  }

  void Refuse(const grpc::Status& status) { Finish(status); }

  // Ends the stream from our side (coordinator shutting down).
  void End() { FinishOnce(grpc::Status::OK); }

  void OnWriteDone(bool ok) override {
    if (!ok) Gone("the first write failed");
  }
  void OnCancel() override { Gone("stream cancelled (peer gone)"); }
  void OnDone() override {
    Gone("stream done");
    service_->ForgetRegistration(this);
    delete this;
  }

 private:
  void Gone(const char* why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (gone_) return;
      gone_ = true;
    }
    spdlog::info("peer {} (start {}) gone: {}", name_, generation_, why);
    service_->registry_.Unregister(name_, generation_);
    FinishOnce(grpc::Status::OK);
  }
  void FinishOnce(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  CoordinatorService* const service_;
  const std::string name_;
  const uint64_t generation_;
  ::harness::v1::RegisterResponse response_;
  std::mutex mu_;
  bool gone_ = false;
  bool finished_ = false;
};

// Streams a run's events: those so far, then each new one, one write at a
// time; finishes after the `finished` event.
class WatchRunReactor
    : public grpc::ServerWriteReactor<::harness::v1::RunEvent> {
 public:
  explicit WatchRunReactor(std::shared_ptr<Run> run) : run_(std::move(run)) {
    run_->AddWatcher();
    subscription_ = run_->Subscribe([this] { Next(); });
    Next();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
        return;
      }
      if (current_.has_finished()) {
        FinishLocked(grpc::Status::OK);
        return;
      }
    }
    Next();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override {
    run_->Unsubscribe(subscription_);
    run_->RemoveWatcher();
    delete this;
  }

 private:
  void Next() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || done_) return;
    std::vector<::harness::v1::RunEvent> events = run_->EventsFrom(next_);
    if (events.empty()) return;
    current_ = std::move(events.front());
    ++next_;
    writing_ = true;
    StartWrite(&current_);
  }
  void FinishLocked(const grpc::Status& status) {
    if (done_) return;
    done_ = true;
    Finish(status);
  }

  std::shared_ptr<Run> run_;
  int subscription_ = 0;
  std::mutex mu_;
  size_t next_ = 0;
  bool writing_ = false;
  bool done_ = false;
  ::harness::v1::RunEvent current_;
};

CoordinatorService::CoordinatorService(std::string lab_token)
    : lab_token_(std::move(lab_token)) {}

void CoordinatorService::LogRefusal(const std::string& what,
                                    const std::string& who) {
  const uint64_t n = ++refused_;
  if (n <= 10 || n % 100 == 0) {
    spdlog::warn("refused {} from {} ({} refused so far{})", what, who, n,
                 n > 10 ? "; one in 100 logged" : "");
  }
}

grpc::Status CoordinatorService::CheckClient(
    const grpc::CallbackServerContext& context, const char* method) {
  if (SameSecret(BearerOf(context), "Bearer " + lab_token_)) {
    return grpc::Status::OK;
  }
  LogRefusal(absl::StrCat(method, " without the lab token"), context.peer());
  return grpc::Status(
      grpc::StatusCode::UNAUTHENTICATED,
      absl::StrCat(method,
                   " needs the lab token (authorization: Bearer TOKEN; "
                   "peerlab-test sends its --token-file, by default "
                   "<state dir>/coordinator.token)"));
}

grpc::Status CoordinatorService::CheckRegistration(
    const grpc::CallbackServerContext& context,
    const ::harness::v1::RegisterRequest& request) {
  bool issued = false;
  {
    std::lock_guard<std::mutex> lock(challenges_mu_);
    auto it = challenges_.find(request.coordinator_nonce());
    if (it != challenges_.end()) {
      issued = it->second > absl::Now();
      challenges_.erase(it);  // used up, valid or not
    }
  }
  const char* why = nullptr;
  if (!issued) {
    why =
        "no challenge of this coordinator, or an expired or used one: ask "
        "Challenge first";
  } else if (request.peer_nonce().size() != kNonceBytes ||
             !SameSecret(request.proof(), RegisterProof(lab_token_, request))) {
    why =
        "wrong proof: the peer does not hold the coordinator's lab token "
        "(give both the same --token-file)";
  }
  if (!why) return grpc::Status::OK;
  LogRefusal(absl::StrCat("Register of \"", request.name(), "\""),
             context.peer());
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      absl::StrCat("Register: ", why));
}

grpc::ServerUnaryReactor* CoordinatorService::Challenge(
    grpc::CallbackServerContext* context,
    const ::harness::v1::ChallengeRequest* request,
    ::harness::v1::ChallengeResponse* response) {
  if (request->peer_nonce().size() != kNonceBytes) {
    return Answer(context,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               absl::StrCat("Challenge: peer_nonce must be ",
                                            kNonceBytes, " bytes")));
  }
  auto nonce = RandomNonce();
  if (!nonce.ok()) return Answer(context, ToGrpcStatus(nonce.status()));
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(challenges_mu_);
    const absl::Time now = absl::Now();
    // Oldest first: drop the expired and used ones, then beyond the bound.
    while (!challenge_order_.empty()) {
      auto it = challenges_.find(challenge_order_.front());
      const bool full = challenges_.size() >= kMaxPendingChallenges;
      if (it != challenges_.end() && it->second > now && !full) break;
      if (it != challenges_.end()) {
        if (it->second > now) dropped = ++challenges_dropped_;
        challenges_.erase(it);
      }
      challenge_order_.pop_front();
    }
    challenges_[*nonce] = now + kChallengeLifetime;
    challenge_order_.push_back(*nonce);
  }
  if (dropped == 1 || (dropped > 0 && dropped % 1000 == 0)) {
    spdlog::warn(
        "more than {} challenges waiting for their Register: dropping the "
        "oldest ({} dropped so far)",
        kMaxPendingChallenges, dropped);
  }
  response->set_coordinator_nonce(*nonce);
  response->set_coordinator_proof(
      CoordinatorProof(lab_token_, request->peer_nonce(), *nonce));
  return Answer(context, grpc::Status::OK);
}

CoordinatorService::~CoordinatorService() {
  Shutdown();
  std::map<std::string, std::shared_ptr<Run>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runs.swap(runs_);
  }
  runs.clear();  // each joins its thread
}

void CoordinatorService::Shutdown() {
  std::vector<std::shared_ptr<Run>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    for (RegisterReactor* r : registrations_) r->End();
    for (auto& [id, run] : runs_) runs.push_back(run);
  }
  for (auto& run : runs) run->Cancel("the coordinator is shutting down");
}

void CoordinatorService::ForgetRegistration(RegisterReactor* reactor) {
  std::lock_guard<std::mutex> lock(mu_);
  registrations_.erase(reactor);
}

std::shared_ptr<Run> CoordinatorService::FindRun(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : it->second;
}

grpc::ServerWriteReactor<::harness::v1::RegisterResponse>*
CoordinatorService::Register(grpc::CallbackServerContext* context,
                             const ::harness::v1::RegisterRequest* request) {
  class Closing
      : public grpc::ServerWriteReactor<::harness::v1::RegisterResponse> {
   public:
    explicit Closing(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  if (grpc::Status s = CheckRegistration(*context, *request); !s.ok()) {
    return new Closing(s);
  }
  if (!IsValidPeerName(request->name()) || request->control_address().empty()) {
    class Refused
        : public grpc::ServerWriteReactor<::harness::v1::RegisterResponse> {
     public:
      explicit Refused(const std::string& name) {
        Finish(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("Register: needs a peer name (letters, digits, _ . "
                         "-; not a script keyword) and a control address; "
                         "got name \"",
                         name, "\"")));
      }
      void OnDone() override { delete this; }
    };
    return new Refused(request->name());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) {
    return new Closing(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "the coordinator is shutting down"));
  }
  if (registrations_.size() >= kMaxRegistrations) {
    spdlog::warn("peer {} refused: {} live registrations, the limit",
                 request->name(), kMaxRegistrations);
    return new Closing(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("the coordinator has ", kMaxRegistrations,
                     " live registrations, its limit: try again when a peer "
                     "has gone")));
  }
  ::harness::v1::PeerInfo info;
  info.set_name(request->name());
  info.set_control_address(request->control_address());
  info.set_version(request->version());
  info.set_pid(request->pid());
  info.set_host(request->host());
  info.set_peer_generation(request->peer_generation());
  auto generation = registry_.Register(
      std::move(info), ControlSessionToken(lab_token_, *request));
  if (!generation.ok()) {
    spdlog::warn("peer {} refused: {}", request->name(),
                 generation.status().message());
    return new Closing(ToGrpcStatus(generation.status()));
  }
  auto* reactor = new RegisterReactor(this, *request, *generation);
  registrations_.insert(reactor);
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::ListPeers(
    grpc::CallbackServerContext* context,
    const ::harness::v1::ListPeersRequest* request,
    ::harness::v1::ListPeersResponse* response) {
  (void)request;
  if (auto s = CheckClient(*context, "ListPeers"); !s.ok()) {
    return Answer(context, s);
  }
  for (auto& p : registry_.List()) *response->add_peers() = std::move(p);
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::StartRun(
    grpc::CallbackServerContext* context,
    const ::harness::v1::StartRunRequest* request,
    ::harness::v1::StartRunResponse* response) {
  if (auto s = CheckClient(*context, "StartRun"); !s.ok()) {
    return Answer(context, s);
  }
  std::string id = request->run_id().empty() ? NewRunId() : request->run_id();
  if (!IsValidRunId(id)) {
    return Answer(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "run_id: letters, digits, - _ . only"));
  }
  std::string name =
      request->script_name().empty() ? "script" : request->script_name();
  auto run = Run::Create(id, name, request->script_text(), request->options(),
                         &registry_);
  if (!run.ok()) return Answer(context, ToGrpcStatus(run.status()));
  std::shared_ptr<Run> shared(std::move(*run));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) {
      return Answer(context, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                          "the coordinator is shutting down"));
    }
    if (runs_.count(id)) {
      return Answer(context,
                    grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                                 absl::StrCat("run ", id, " exists already")));
    }
    size_t active = 0;
    for (const auto& [other, r] : runs_) active += !r->finished();
    if (active >= kMaxActiveRuns) {
      spdlog::warn("run {} refused: {} runs in progress, the limit", id,
                   kMaxActiveRuns);
      return Answer(
          context,
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("the coordinator has ", kMaxActiveRuns,
                                    " runs in progress, its limit: try again "
                                    "when one has finished")));
    }
    runs_[id] = shared;
    run_order_.push_back(id);
    TrimRunsLocked();
  }
  spdlog::info("run {}: {} ({} bytes)", id, name,
               request->script_text().size());
  if (run_observer_) run_observer_(shared);
  shared->Start();
  response->set_run_id(id);
  return Answer(context, grpc::Status::OK);
}

void CoordinatorService::TrimRunsLocked() {
  size_t finished = 0;
  for (const auto& id : run_order_) finished += runs_[id]->finished();
  for (auto it = run_order_.begin();
       it != run_order_.end() && finished > kMaxFinishedRuns;) {
    if (runs_[*it]->finished()) {
      runs_.erase(*it);
      it = run_order_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

grpc::ServerWriteReactor<::harness::v1::RunEvent>* CoordinatorService::WatchRun(
    grpc::CallbackServerContext* context,
    const ::harness::v1::WatchRunRequest* request) {
  class Refused : public grpc::ServerWriteReactor<::harness::v1::RunEvent> {
   public:
    explicit Refused(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  if (auto s = CheckClient(*context, "WatchRun"); !s.ok()) {
    return new Refused(s);
  }
  std::shared_ptr<Run> run = FindRun(request->run_id());
  if (!run) return new Refused(NoRun(request->run_id()));
  return new WatchRunReactor(std::move(run));
}

grpc::ServerUnaryReactor* CoordinatorService::ResolveFault(
    grpc::CallbackServerContext* context,
    const ::harness::v1::ResolveFaultRequest* request,
    ::harness::v1::ResolveFaultResponse* response) {
  (void)response;
  if (auto s = CheckClient(*context, "ResolveFault"); !s.ok()) {
    return Answer(context, s);
  }
  std::shared_ptr<Run> run = FindRun(request->run_id());
  if (!run) return Answer(context, NoRun(request->run_id()));
  return Answer(context,
                ToGrpcStatus(run->ResolveFault(
                    request->fault_id(), request->ok(), request->message())));
}

grpc::ServerUnaryReactor* CoordinatorService::CancelRun(
    grpc::CallbackServerContext* context,
    const ::harness::v1::CancelRunRequest* request,
    ::harness::v1::CancelRunResponse* response) {
  (void)response;
  if (auto s = CheckClient(*context, "CancelRun"); !s.ok()) {
    return Answer(context, s);
  }
  std::shared_ptr<Run> run = FindRun(request->run_id());
  if (!run) return Answer(context, NoRun(request->run_id()));
  run->Cancel(request->reason().empty() ? "cancelled by a client"
                                        : request->reason());
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::GetSummary(
    grpc::CallbackServerContext* context,
    const ::harness::v1::GetSummaryRequest* request,
    ::harness::v1::RunSummary* response) {
  if (auto s = CheckClient(*context, "GetSummary"); !s.ok()) {
    return Answer(context, s);
  }
  std::shared_ptr<Run> run = FindRun(request->run_id());
  if (!run) return Answer(context, NoRun(request->run_id()));
  *response = run->Summary();
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::ListRuns(
    grpc::CallbackServerContext* context,
    const ::harness::v1::ListRunsRequest* request,
    ::harness::v1::ListRunsResponse* response) {
  (void)request;
  if (auto s = CheckClient(*context, "ListRuns"); !s.ok()) {
    return Answer(context, s);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : run_order_) {
    auto* r = response->add_runs();
    r->set_run_id(id);
    r->set_script_name(runs_[id]->script_name());
    r->set_state(runs_[id]->state());
  }
  return Answer(context, grpc::Status::OK);
}

}  // namespace peerlab::harness
