#include "peer/membership/real/udp_grpc_transport.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "peer/membership/real/resolve_datagram.h"

namespace peerlab::membership {

namespace {

// A node heard from but not in the book is asked at most this often.
constexpr absl::Duration kBackgroundQueryInterval = absl::Seconds(5);
constexpr size_t kMaxRemembered = 16384;   // the book, the channel cache
constexpr int kMaxGrpcMessage = 64 << 20;  // push/pull of a large cluster

uint64_t RandomToken() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

struct UdpGrpcTransport::Counters {
  std::atomic<uint64_t> packets_sent{0}, packets_received{0}, bytes_sent{0},
      bytes_received{0}, dropped_oversize{0}, dropped_would_block{0},
      dropped_after_shutdown{0}, dropped_bad_address{0},
      dropped_too_many_calls{0}, dropped_not_a_packet{0}, dropped_by_faults{0},
      faulted_calls{0}, send_errors{0}, received_malformed{0}, reliable_sent{0},
      reliable_failed{0}, reliable_received{0}, resolve_queries_sent{0},
      resolve_answers_received{0};
};

struct UdpGrpcTransport::Waiter {
  uint64_t id = 0;
  ::peer::v1::ReliableRequest request;
  absl::Time deadline;
  ReliableDone done;
  runtime::Scheduler::TimerId expiry = 0;
};

absl::StatusOr<std::unique_ptr<UdpGrpcTransport>> UdpGrpcTransport::Create(
    runtime::Scheduler* scheduler, Options options) {
  const int handed_fd = options.udp_fd;
  auto fail = [&](absl::Status s) {
    if (handed_fd >= 0) ::close(handed_fd);  // ours even on error
    return s;
  };
  if (scheduler == nullptr) {
    return fail(absl::InvalidArgumentError("transport: no scheduler"));
  }
  if (options.service == nullptr) {
    return fail(absl::InvalidArgumentError(
        "transport: no MembershipStreamService for the reliable path"));
  }
  if (!LooksLikeHostPort(options.grpc_address)) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "transport: bad gRPC address \"", options.grpc_address, "\"")));
  }
  if (options.mode == Mode::kGrpcOnly && handed_fd >= 0) {
    ::close(handed_fd);  // not needed: no UDP in this mode
    options.udp_fd = -1;
  }
  std::unique_ptr<UdpGrpcTransport> t(
      new UdpGrpcTransport(scheduler, std::move(options)));
  if (auto s = t->Open(); !s.ok()) return s;  // Open closes the fd
  t->options_.service->Attach(t.get());
  return t;
}

UdpGrpcTransport::UdpGrpcTransport(runtime::Scheduler* scheduler,
                                   Options options)
    : scheduler_(scheduler),
      options_(std::move(options)),
      resolve_token_(RandomToken()),
      book_(AddressBook::Options{.query_interval = kBackgroundQueryInterval,
                                 .max_entries = kMaxRemembered}),
      counters_(std::make_unique<Counters>()) {}

UdpGrpcTransport::~UdpGrpcTransport() {
  Shutdown();
  life_.reset();
}

absl::Status UdpGrpcTransport::Open() {
  ReliableClient::Options client{
      .member_addr = "",
      .grpc_addr = options_.mode == Mode::kUdp ? options_.grpc_address : "",
      .credentials = options_.credentials,
      .max_packet_calls_in_flight = options_.max_packet_calls_in_flight,
      .max_channels = kMaxRemembered,
      .max_message_bytes = kMaxGrpcMessage};
  if (options_.mode == Mode::kGrpcOnly) {
    local_address_ = options_.grpc_address;
    client.member_addr = local_address_;
    client_ = std::make_unique<ReliableClient>(std::move(client));
    return absl::OkStatus();
  }
  auto socket = UdpSocket::Open({.fd = options_.udp_fd,
                                 .bind_host = options_.udp_bind_host,
                                 .port = options_.udp_port,
                                 .advertise_host = options_.advertise_host,
                                 .buffer_bytes = options_.socket_buffer_bytes,
                                 .thread_name = options_.thread_name,
                                 .logger = options_.logger});
  if (!socket.ok()) return socket.status();
  socket_ = *std::move(socket);
  udp_port_ = socket_->port();
  local_address_ = socket_->local_address();
  client.member_addr = local_address_;
  client_ = std::make_unique<ReliableClient>(std::move(client));
  return socket_->Start(
      [this](const std::string& from, std::string_view bytes) {
        OnDatagram(from, bytes);
      });
}

void UdpGrpcTransport::SetHandlers(Handlers handlers) {
  handlers_ = std::make_shared<const Handlers>(std::move(handlers));
}

std::string UdpGrpcTransport::LocalAddress() const { return local_address_; }

void UdpGrpcTransport::PostGuarded(std::function<void()> task) {
  std::weak_ptr<int> life = life_;
  scheduler_->Post([life, task = std::move(task)] {
    // The transport is destroyed only on this thread (or after the
    // scheduler stopped), so it cannot go away during the task.
    if (life.expired()) return;
    task();
  });
}

// ---------------------------------------------------------------------------
// Datagrams.

void UdpGrpcTransport::AfterGuarded(absl::Duration delay,
                                    std::function<void()> task) {
  std::weak_ptr<int> life = life_;
  scheduler_->After(delay, [life, task = std::move(task)] {
    if (!life.expired()) task();
  });
}

bool UdpGrpcTransport::Blocked(const std::string& to) const {
  return options_.faults != nullptr && options_.faults->Blocks(to);
}

void UdpGrpcTransport::SendPacket(const std::string& to, std::string bytes) {
  if (shut_down_) {
    ++counters_->dropped_after_shutdown;
    return;
  }
  if (bytes.size() > kMaxDatagram) {
    ++counters_->dropped_oversize;
    return;
  }
  if (options_.faults == nullptr || options_.faults->empty()) {
    SendPacketNow(to, bytes);
    return;
  }
  runtime::PacketFate fate = options_.faults->DecidePacket(to, absl::Now());
  if (fate.outcome != runtime::PacketFate::Outcome::kSend) {
    ++counters_->dropped_by_faults;
    return;
  }
  for (size_t i = 0; i < fate.copies.size(); ++i) {
    const absl::Duration hold = fate.copies[i];
    if (hold <= absl::ZeroDuration()) {
      SendPacketNow(to, bytes);
      continue;
    }
    std::string copy = i + 1 < fate.copies.size() ? bytes : std::move(bytes);
    AfterGuarded(hold, [this, to, copy = std::move(copy)] {
      if (shut_down_) {
        ++counters_->dropped_after_shutdown;
        return;
      }
      SendPacketNow(to, copy);
    });
  }
}

void UdpGrpcTransport::SendPacketNow(const std::string& to,
                                     const std::string& bytes) {
  if (options_.mode == Mode::kGrpcOnly) {
    SendPacketOverGrpc(to, bytes);
    return;
  }
  switch (socket_->SendTo(to, bytes)) {
    case UdpSocket::SendResult::kSent:
      ++counters_->packets_sent;
      counters_->bytes_sent += bytes.size();
      return;
    case UdpSocket::SendResult::kWouldBlock:
      ++counters_->dropped_would_block;
      return;
    case UdpSocket::SendResult::kBadAddress:
      ++counters_->dropped_bad_address;
      return;
    case UdpSocket::SendResult::kClosed:
      ++counters_->dropped_after_shutdown;
      return;
    case UdpSocket::SendResult::kError:
      ++counters_->send_errors;
      return;
  }
}

void UdpGrpcTransport::SendPacketOverGrpc(const std::string& to,
                                          const std::string& bytes) {
  ::peer::v1::ReliableRequest request;
  if (!request.mutable_packet()->ParseFromString(bytes)) {
    ++counters_->dropped_not_a_packet;
    return;
  }
  absl::Status started = client_->Start(
      to, std::move(request), absl::Now() + options_.packet_call_timeout,
      ReliableClient::Kind::kPacket,
      [this](absl::StatusOr<::peer::v1::ReliableResponse> result) {
        if (!result.ok()) ++counters_->send_errors;
      });
  if (started.ok()) {
    ++counters_->packets_sent;
    counters_->bytes_sent += bytes.size();
  } else if (absl::IsResourceExhausted(started)) {
    ++counters_->dropped_too_many_calls;
  } else {
    ++counters_->dropped_after_shutdown;
  }
}

void UdpGrpcTransport::OnDatagram(const std::string& from,
                                  std::string_view bytes) {
  if (IsResolveDatagram(bytes)) {
    HandleResolveDatagram(from, bytes);
    return;
  }
  ++counters_->packets_received;
  counters_->bytes_received += bytes.size();
  PostGuarded([this, from, bytes = std::string(bytes)] {
    if (shut_down_) return;
    // Learn the gRPC address of every member heard from, so that it is
    // known before a fallback probe needs it.
    if (book_.ShouldQuery(from, scheduler_->Now())) SendResolveQuery(from);
    if (!handlers_ || !handlers_->on_packet) return;
    handlers_->on_packet(from, bytes);
  });
}

void UdpGrpcTransport::HandleResolveDatagram(const std::string& from,
                                             std::string_view bytes) {
  absl::StatusOr<ResolveDatagram> datagram = DecodeResolveDatagram(bytes);
  if (!datagram.ok()) {
    ++counters_->received_malformed;
    return;
  }
  if (datagram->kind == ResolveDatagram::Kind::kQuery) {
    std::optional<std::string> answer = EncodeResolveAnswer(
        datagram->token, options_.grpc_address, bytes.size());
    if (answer && !Blocked(from)) socket_->SendTo(from, *answer);
    return;
  }
  if (datagram->token != resolve_token_) {
    ++counters_->received_malformed;
    return;
  }
  ++counters_->resolve_answers_received;
  SetReliableAddress(from, datagram->address);
  bool waited_for;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waited_for = waiting_.count(from) > 0;
  }
  if (waited_for) PostGuarded([this, from] { Resolved(from); });
}

void UdpGrpcTransport::SendResolveQuery(const std::string& member_addr) {
  if (Blocked(member_addr)) return;
  if (socket_->SendTo(member_addr, EncodeResolveQuery(resolve_token_)) ==
      UdpSocket::SendResult::kSent) {
    ++counters_->resolve_queries_sent;
  }
}

// ---------------------------------------------------------------------------
// Address book.

void UdpGrpcTransport::SetReliableAddress(const std::string& member_addr,
                                          const std::string& grpc_addr) {
  book_.Set(member_addr, grpc_addr);
}

std::string UdpGrpcTransport::ReliableAddressOf(
    const std::string& member_addr) const {
  return book_.Get(member_addr);
}

// ---------------------------------------------------------------------------
// The reliable path, client side.

void UdpGrpcTransport::SendReliable(const std::string& to,
                                    ::peer::v1::ReliableRequest request,
                                    absl::Duration timeout, ReliableDone done) {
  ++counters_->reliable_sent;
  auto fail = [this, &done](absl::Status status) {
    ++counters_->reliable_failed;
    PostGuarded([done = std::move(done), status] { done(status); });
  };
  if (shut_down_) {
    fail(absl::UnavailableError("transport shut down"));
    return;
  }
  if (options_.faults == nullptr || options_.faults->empty()) {
    SendReliableNow(to, std::move(request), timeout, std::move(done));
    return;
  }
  const std::string grpc_addr =
      options_.mode == Mode::kUdp ? ReliableAddressOf(to) : std::string();
  runtime::CallFate fate = options_.faults->DecideCall({to, grpc_addr});
  switch (fate.fault) {
    case runtime::CallFault::kFail:
      ++counters_->faulted_calls;
      fail(absl::UnavailableError(
          absl::StrCat("calls to ", to, fate.blocked ? " are blocked" : " fail",
                       " by a fault rule")));
      return;
    case runtime::CallFault::kHang:
      ++counters_->faulted_calls;
      AfterGuarded(timeout, [this, to, done = std::move(done)] {
        ++counters_->reliable_failed;
        done(absl::DeadlineExceededError(absl::StrCat(
            "no answer from ", to, " (a fault rule hangs calls to it)")));
      });
      return;
    case runtime::CallFault::kNone:
      break;
  }
  if (fate.delay > absl::ZeroDuration()) {
    AfterGuarded(fate.delay, [this, to, request = std::move(request),
                              timeout = timeout - fate.delay,
                              done = std::move(done)]() mutable {
      if (shut_down_) {
        ++counters_->reliable_failed;
        done(absl::CancelledError("transport shut down"));
        return;
      }
      SendReliableNow(to, std::move(request), timeout, std::move(done));
    });
    return;
  }
  SendReliableNow(to, std::move(request), timeout, std::move(done));
}

void UdpGrpcTransport::SendReliableNow(const std::string& to,
                                       ::peer::v1::ReliableRequest request,
                                       absl::Duration timeout,
                                       ReliableDone done) {
  auto fail = [this, &done](absl::Status status) {
    ++counters_->reliable_failed;
    PostGuarded([done = std::move(done), status] { done(status); });
  };
  const absl::Time deadline = absl::Now() + timeout;
  if (options_.mode == Mode::kGrpcOnly) {
    StartCall(to, std::move(request), deadline, std::move(done));
    return;
  }
  if (std::string grpc_addr = ReliableAddressOf(to); !grpc_addr.empty()) {
    StartCall(grpc_addr, std::move(request), deadline, std::move(done));
    return;
  }
  if (!UdpSocket::IsIpv4Address(to)) {
    fail(absl::InvalidArgumentError(
        absl::StrCat("\"", to, "\" is not an \"ipv4:port\" address")));
    return;
  }
  // Ask `to` for its gRPC address, then call.
  auto waiter = std::make_shared<Waiter>();
  waiter->request = std::move(request);
  waiter->deadline = deadline;
  waiter->done = std::move(done);
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiter->id = next_waiter_id_++;
    waiting_[to].push_back(waiter);
    first = retrying_.insert(to).second;
  }
  std::weak_ptr<int> life = life_;
  const uint64_t id = waiter->id;
  waiter->expiry = scheduler_->After(timeout, [this, life, to, id] {
    if (!life.expired()) ExpireWaiter(to, id);
  });
  if (first) RetryResolve(to);
}

void UdpGrpcTransport::RetryResolve(const std::string& member_addr) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(member_addr);
    if (shut_down_ || it == waiting_.end() || it->second.empty()) {
      retrying_.erase(member_addr);
      return;
    }
  }
  SendResolveQuery(member_addr);
  std::weak_ptr<int> life = life_;
  scheduler_->After(options_.resolve_retry_interval, [this, life, member_addr] {
    if (!life.expired()) RetryResolve(member_addr);
  });
}

void UdpGrpcTransport::Resolved(const std::string& member_addr) {
  std::vector<std::shared_ptr<Waiter>> ready;
  const std::string grpc_addr = book_.Get(member_addr);
  if (grpc_addr.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(member_addr);
    if (it == waiting_.end()) return;
    ready.swap(it->second);
    waiting_.erase(it);
  }
  for (auto& w : ready) {
    scheduler_->Cancel(w->expiry);
    StartCall(grpc_addr, std::move(w->request), w->deadline,
              std::move(w->done));
  }
}

void UdpGrpcTransport::ExpireWaiter(const std::string& member_addr,
                                    uint64_t waiter_id) {
  std::shared_ptr<Waiter> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(member_addr);
    if (it == waiting_.end()) return;
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end(); ++w) {
      if ((*w)->id == waiter_id) {
        expired = *w;
        list.erase(w);
        break;
      }
    }
    if (list.empty()) waiting_.erase(it);
  }
  if (!expired) return;
  ++counters_->reliable_failed;
  expired->done(absl::DeadlineExceededError(
      absl::StrCat("no answer from ", member_addr,
                   " (its gRPC address did not resolve in time)")));
}

void UdpGrpcTransport::StartCall(const std::string& grpc_addr,
                                 ::peer::v1::ReliableRequest request,
                                 absl::Time deadline, ReliableDone done) {
  auto shared_done = std::make_shared<ReliableDone>(std::move(done));
  absl::Status started = client_->Start(
      grpc_addr, std::move(request), deadline, ReliableClient::Kind::kReliable,
      [this, shared_done](absl::StatusOr<::peer::v1::ReliableResponse> result) {
        if (!result.ok()) ++counters_->reliable_failed;
        PostGuarded([shared_done, result = std::move(result)] {
          (*shared_done)(result);
        });
      });
  if (!started.ok()) {
    ++counters_->reliable_failed;
    PostGuarded([shared_done, started] { (*shared_done)(started); });
  }
}

// ---------------------------------------------------------------------------
// The reliable path, server side.

void UdpGrpcTransport::OnExchange(
    const MembershipStreamService::Caller& caller,
    const ::peer::v1::ReliableRequest& request,
    MembershipStreamService::Responder responder) {
  if (options_.mode == Mode::kUdp && !caller.grpc_addr.empty() &&
      !caller.member_addr.empty() && LooksLikeHostPort(caller.grpc_addr)) {
    SetReliableAddress(caller.member_addr, caller.grpc_addr);
  }
  if (shut_down_) {
    responder(absl::UnavailableError("transport shut down"));
    return;
  }
  // The answer is this node's traffic to the caller: a block rule for the
  // caller stops it (as a blackhole route stops the TCP answers), so a
  // one-way block holds for the calls the other side opens too.
  if (Blocked(caller.member_addr) ||
      (!caller.grpc_addr.empty() && Blocked(caller.grpc_addr))) {
    ++counters_->faulted_calls;
    responder(absl::UnavailableError(
        "the answer is blocked by a fault rule of the callee"));
    return;
  }
  if (request.has_packet()) {
    // A datagram carried over gRPC: delivered like one from UDP, answered
    // at once.
    std::string bytes = request.packet().SerializeAsString();
    ++counters_->packets_received;
    counters_->bytes_received += bytes.size();
    PostGuarded([this, from = caller.member_addr, bytes = std::move(bytes)] {
      if (shut_down_ || !handlers_ || !handlers_->on_packet) return;
      handlers_->on_packet(from, bytes);
    });
    ::peer::v1::ReliableResponse empty;
    empty.mutable_empty();
    responder(std::move(empty));
    return;
  }
  ++counters_->reliable_received;
  PostGuarded([this, from = caller.member_addr, request, responder] {
    if (shut_down_ || !handlers_ || !handlers_->on_reliable) {
      responder(absl::UnavailableError("membership not running"));
      return;
    }
    handlers_->on_reliable(from, request, responder);
  });
}

// ---------------------------------------------------------------------------
// Shutdown.

void UdpGrpcTransport::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  options_.service->Detach(this);
  if (socket_) socket_->Close();
  // Outgoing calls: cancelled, and waited for (their callbacks use this
  // object).
  if (client_) client_->Shutdown();
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
    retrying_.clear();
  }
  for (auto& [addr, list] : waiting) {
    for (auto& w : list) {
      ++counters_->reliable_failed;
      PostGuarded([done = std::move(w->done)] {
        done(absl::CancelledError("transport shut down"));
      });
    }
  }
}

UdpGrpcTransport::Stats UdpGrpcTransport::stats() const {
  const Counters& c = *counters_;
  return Stats{
      .packets_sent = c.packets_sent,
      .packets_received = c.packets_received,
      .bytes_sent = c.bytes_sent,
      .bytes_received = c.bytes_received,
      .dropped_oversize = c.dropped_oversize,
      .dropped_would_block = c.dropped_would_block,
      .dropped_after_shutdown = c.dropped_after_shutdown,
      .dropped_bad_address = c.dropped_bad_address,
      .dropped_too_many_calls = c.dropped_too_many_calls,
      .dropped_not_a_packet = c.dropped_not_a_packet,
      .dropped_by_faults = c.dropped_by_faults,
      .faulted_calls = c.faulted_calls,
      .send_errors = c.send_errors,
      .received_malformed = c.received_malformed,
      .reliable_sent = c.reliable_sent,
      .reliable_failed = c.reliable_failed,
      .reliable_received = c.reliable_received,
      .resolve_queries_sent = c.resolve_queries_sent,
      .resolve_answers_received = c.resolve_answers_received,
  };
}

}  // namespace peerlab::membership
