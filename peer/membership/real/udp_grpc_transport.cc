#include "peer/membership/real/udp_grpc_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_status.h"
#include "services/common/logging.h"

namespace peerlab::membership {

namespace {

// Resolve datagrams: [0][kind][8-byte token][body].
constexpr char kResolveQuery = 1;   // body: zero padding to kQuerySize
constexpr char kResolveAnswer = 2;  // body: the gRPC address
constexpr size_t kControlHeader = 10;
constexpr size_t kQuerySize = 64;
constexpr size_t kMaxAddress = 255;
// A node heard from but not in the book is asked at most this often.
constexpr absl::Duration kBackgroundQueryInterval = absl::Seconds(5);
constexpr size_t kMaxRemembered = 16384;   // book_, last_query_, stubs_
constexpr int kMaxGrpcMessage = 64 << 20;  // push/pull of a large cluster

// "a.b.c.d:port" -> sockaddr_in.
bool ParseIpv4(const std::string& address, sockaddr_in* out) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return false;
  }
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return ::inet_pton(AF_INET, address.substr(0, colon).c_str(),
                     &out->sin_addr) == 1;
}

std::string FormatIpv4(const sockaddr_in& addr) {
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
  return absl::StrCat(host, ":", ntohs(addr.sin_port));
}

// A plausible "host:port" (gRPC also takes names, so the host is not
// checked further).
bool LooksLikeHostPort(absl::string_view s) {
  if (s.empty() || s.size() > kMaxAddress) return false;
  const size_t colon = s.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(s.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return false;
  }
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

uint64_t RandomToken() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

struct UdpGrpcTransport::Counters {
  std::atomic<uint64_t> packets_sent{0}, packets_received{0}, bytes_sent{0},
      bytes_received{0}, dropped_oversize{0}, dropped_would_block{0},
      dropped_after_shutdown{0}, dropped_bad_address{0},
      dropped_too_many_calls{0}, dropped_not_a_packet{0}, send_errors{0},
      received_malformed{0}, reliable_sent{0}, reliable_failed{0},
      reliable_received{0}, resolve_queries_sent{0},
      resolve_answers_received{0};
};

// One outgoing call; shared by the in-flight set and gRPC's callback.
struct UdpGrpcTransport::ClientCall {
  grpc::ClientContext context;
  ::peer::v1::ReliableRequest request;
  ::peer::v1::ReliableResponse response;
  ReliableDone done;  // empty for a datagram carried over gRPC
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
      counters_(std::make_unique<Counters>()) {}

UdpGrpcTransport::~UdpGrpcTransport() {
  Shutdown();
  life_.reset();
}

absl::Status UdpGrpcTransport::Open() {
  if (options_.mode == Mode::kGrpcOnly) {
    local_address_ = options_.grpc_address;
    return absl::OkStatus();
  }
  if (options_.udp_fd >= 0) {
    fd_ = options_.udp_fd;
    int type = 0;
    socklen_t len = sizeof(type);
    sockaddr_in bound{};
    socklen_t blen = sizeof(bound);
    if (::getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        type != SOCK_DGRAM ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen) != 0 ||
        bound.sin_family != AF_INET) {
      return absl::InvalidArgumentError(
          "transport: udp_fd is not a bound IPv4 UDP socket");
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  } else {
    sockaddr_in addr{};
    if (!ParseIpv4(absl::StrCat(options_.udp_bind_host, ":1"), &addr)) {
      return absl::InvalidArgumentError(
          absl::StrCat("transport: \"", options_.udp_bind_host,
                       "\" is not an IPv4 address"));
    }
    addr.sin_port = htons(static_cast<uint16_t>(options_.udp_port));
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("transport: socket: ", std::strerror(errno)));
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(
          absl::StrCat("transport: bind ", options_.udp_bind_host, ":",
                       options_.udp_port, ": ", std::strerror(errno)));
    }
  }
  const int buffer = options_.socket_buffer_bytes;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));

  sockaddr_in bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  udp_port_ = ntohs(bound.sin_port);
  std::string host = options_.advertise_host;
  if (host.empty()) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &bound.sin_addr, buf, sizeof(buf));
    host = buf;
  }
  sockaddr_in check{};
  if (host == "0.0.0.0" || !ParseIpv4(absl::StrCat(host, ":1"), &check)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transport: advertise address \"", host,
        "\" is not an IPv4 address others can reach; set advertise_host"));
  }
  local_address_ = absl::StrCat(host, ":", udp_port_);

  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::UnavailableError(
        absl::StrCat("transport: pipe: ", std::strerror(errno)));
  }
  receive_thread_ = std::thread([this] { ReceiveLoop(); });
  return absl::OkStatus();
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

void UdpGrpcTransport::SendPacket(const std::string& to, std::string bytes) {
  if (shut_down_) {
    ++counters_->dropped_after_shutdown;
    return;
  }
  if (bytes.size() > kMaxDatagram) {
    ++counters_->dropped_oversize;
    return;
  }
  if (options_.mode == Mode::kGrpcOnly) {
    SendPacketOverGrpc(to, bytes);
    return;
  }
  sockaddr_in dest;
  if (!ParseIpv4(to, &dest)) {
    ++counters_->dropped_bad_address;
    return;
  }
  absl::ReaderMutexLock lock(&fd_mu_);
  if (fd_ < 0) {
    ++counters_->dropped_after_shutdown;
    return;
  }
  const ssize_t n =
      ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      ++counters_->dropped_would_block;
    } else {
      ++counters_->send_errors;
    }
    return;
  }
  ++counters_->packets_sent;
  counters_->bytes_sent += bytes.size();
}

void UdpGrpcTransport::SendPacketOverGrpc(const std::string& to,
                                          const std::string& bytes) {
  ::peer::v1::ReliableRequest request;
  if (!request.mutable_packet()->ParseFromString(bytes)) {
    ++counters_->dropped_not_a_packet;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (packet_calls_ >= options_.max_packet_calls_in_flight) {
      ++counters_->dropped_too_many_calls;
      return;
    }
  }
  ++counters_->packets_sent;
  counters_->bytes_sent += bytes.size();
  StartCall(to, std::move(request), absl::Now() + options_.packet_call_timeout,
            nullptr);
}

void UdpGrpcTransport::ReceiveLoop() {
  pthread_setname_np(pthread_self(),
                     options_.thread_name.substr(0, 15).c_str());
  std::vector<char> buf(kMaxDatagram + 1);
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      ComponentLogger("membership")
          ->error("transport: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // Shutdown
    if (fds[0].revents == 0) continue;
    // Drain a bounded batch, then look at the wake pipe again.
    for (int i = 0; i < 256; ++i) {
      sockaddr_in src{};
      socklen_t len = sizeof(src);
      const ssize_t r = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&src), &len);
      if (r < 0) {
        if (errno == EINTR) continue;
        // EAGAIN: drained. Anything else (a queued ICMP error) is not
        // about the next datagram: poll again.
        break;
      }
      std::string from = FormatIpv4(src);
      if (r > 0 && buf[0] == 0) {
        HandleControlDatagram(from, buf.data(), static_cast<size_t>(r));
        continue;
      }
      ++counters_->packets_received;
      counters_->bytes_received += static_cast<uint64_t>(r);
      MaybeResolveInBackground(from);
      PostGuarded([this, from = std::move(from),
                   bytes = std::string(buf.data(), static_cast<size_t>(r))] {
        if (shut_down_ || !handlers_ || !handlers_->on_packet) return;
        handlers_->on_packet(from, bytes);
      });
    }
  }
}

void UdpGrpcTransport::HandleControlDatagram(const std::string& from,
                                             const char* data, size_t size) {
  if (size < kControlHeader) {
    ++counters_->received_malformed;
    return;
  }
  if (data[1] == kResolveQuery) {
    if (size < kQuerySize) {  // unpadded: could amplify
      ++counters_->received_malformed;
      return;
    }
    std::string answer(data, kControlHeader);
    answer[1] = kResolveAnswer;
    answer += options_.grpc_address;
    sockaddr_in dest;
    if (answer.size() > size || !ParseIpv4(from, &dest)) return;
    // The receive thread is the only reader of fd_ until Shutdown joins it.
    ::sendto(fd_, answer.data(), answer.size(), MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
    return;
  }
  if (data[1] == kResolveAnswer) {
    uint64_t token;
    std::memcpy(&token, data + 2, sizeof(token));
    const absl::string_view address(data + kControlHeader,
                                    size - kControlHeader);
    if (token != resolve_token_ || !LooksLikeHostPort(address)) {
      ++counters_->received_malformed;
      return;
    }
    ++counters_->resolve_answers_received;
    SetReliableAddress(from, std::string(address));
    bool waited_for;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waited_for = waiting_.count(from) > 0;
    }
    if (waited_for) PostGuarded([this, from] { Resolved(from); });
    return;
  }
  ++counters_->received_malformed;
}

void UdpGrpcTransport::SendResolveQuery(const std::string& member_addr) {
  sockaddr_in dest;
  if (!ParseIpv4(member_addr, &dest)) return;
  std::string query(kQuerySize, '\0');
  query[1] = kResolveQuery;
  std::memcpy(query.data() + 2, &resolve_token_, sizeof(resolve_token_));
  absl::ReaderMutexLock lock(&fd_mu_);
  if (fd_ < 0) return;
  if (::sendto(fd_, query.data(), query.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest)) > 0) {
    ++counters_->resolve_queries_sent;
  }
}

void UdpGrpcTransport::MaybeResolveInBackground(
    const std::string& member_addr) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (book_.count(member_addr) > 0) return;
    const absl::Time now = absl::Now();
    if (last_query_.size() >= kMaxRemembered) last_query_.clear();
    auto [it, inserted] = last_query_.emplace(member_addr, now);
    if (!inserted) {
      if (now - it->second < kBackgroundQueryInterval) return;
      it->second = now;
    }
  }
  SendResolveQuery(member_addr);
}

// ---------------------------------------------------------------------------
// Address book.

void UdpGrpcTransport::SetReliableAddress(const std::string& member_addr,
                                          const std::string& grpc_addr) {
  std::lock_guard<std::mutex> lock(mu_);
  if (book_.size() >= kMaxRemembered && book_.count(member_addr) == 0) {
    book_.clear();  // relearned from traffic; bounds memory under churn
  }
  book_[member_addr] = grpc_addr;
}

std::string UdpGrpcTransport::ReliableAddressOf(
    const std::string& member_addr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = book_.find(member_addr);
  return it == book_.end() ? "" : it->second;
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
  const absl::Time deadline = absl::Now() + timeout;
  if (options_.mode == Mode::kGrpcOnly) {
    StartCall(to, std::move(request), deadline, std::move(done));
    return;
  }
  if (std::string grpc_addr = ReliableAddressOf(to); !grpc_addr.empty()) {
    StartCall(grpc_addr, std::move(request), deadline, std::move(done));
    return;
  }
  sockaddr_in unused;
  if (!ParseIpv4(to, &unused)) {
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
  std::string grpc_addr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(member_addr);
    auto book = book_.find(member_addr);
    if (it == waiting_.end() || book == book_.end()) return;
    ready.swap(it->second);
    waiting_.erase(it);
    grpc_addr = book->second;
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

std::shared_ptr<::peer::v1::MembershipStream::Stub> UdpGrpcTransport::StubFor(
    const std::string& grpc_addr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stubs_.find(grpc_addr);
  if (it != stubs_.end()) return it->second;
  if (stubs_.size() >= kMaxRemembered) stubs_.clear();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessage);
  args.SetMaxSendMessageSize(kMaxGrpcMessage);
  auto stub = std::shared_ptr<::peer::v1::MembershipStream::Stub>(
      ::peer::v1::MembershipStream::NewStub(grpc::CreateCustomChannel(
          grpc_addr,
          options_.credentials ? options_.credentials
                               : grpc::InsecureChannelCredentials(),
          args)));
  stubs_.emplace(grpc_addr, stub);
  return stub;
}

void UdpGrpcTransport::StartCall(const std::string& grpc_addr,
                                 ::peer::v1::ReliableRequest request,
                                 absl::Time deadline, ReliableDone done) {
  const bool is_packet = !done;
  auto call = std::make_shared<ClientCall>();
  call->context.set_deadline(absl::ToChronoTime(deadline));
  call->context.AddMetadata(kMemberAddrMetadata, local_address_);
  if (options_.mode == Mode::kUdp) {
    call->context.AddMetadata(kGrpcAddrMetadata, options_.grpc_address);
  }
  call->request = std::move(request);
  call->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) {
      if (is_packet) {
        ++counters_->dropped_after_shutdown;
      } else {
        ++counters_->reliable_failed;
        PostGuarded([done = std::move(call->done)] {
          done(absl::UnavailableError("transport shut down"));
        });
      }
      return;
    }
    calls_.insert(call);
    if (is_packet) ++packet_calls_;
  }
  auto stub = StubFor(grpc_addr);
  stub->async()->Exchange(
      &call->context, &call->request, &call->response,
      [this, call, is_packet](grpc::Status status) {
        if (!status.ok()) {
          ++(is_packet ? counters_->send_errors : counters_->reliable_failed);
        }
        if (!is_packet) {
          absl::StatusOr<::peer::v1::ReliableResponse> result =
              status.ok() ? absl::StatusOr<::peer::v1::ReliableResponse>(
                                std::move(call->response))
                          : FromGrpcStatus(status);
          PostGuarded([done = std::move(call->done),
                       result = std::move(result)] { done(result); });
        }
        // Last: once the set is empty, Shutdown may return and the
        // transport may be destroyed.
        std::lock_guard<std::mutex> lock(mu_);
        calls_.erase(call);
        if (is_packet) --packet_calls_;
        if (calls_.empty()) calls_done_.notify_all();
      });
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

  if (receive_thread_.joinable()) {
    const char byte = 1;
    while (::write(wake_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
    receive_thread_.join();
  }
  {
    absl::WriterMutexLock lock(&fd_mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  for (int& p : wake_pipe_) {
    if (p >= 0) ::close(p);
    p = -1;
  }

  // Outgoing calls: cancel, and wait until gRPC has returned each (their
  // callbacks use this object).
  std::vector<std::shared_ptr<ClientCall>> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls.assign(calls_.begin(), calls_.end());
  }
  for (auto& call : calls) call->context.TryCancel();
  calls.clear();
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting;
  {
    std::unique_lock<std::mutex> lock(mu_);
    calls_done_.wait(lock, [this] { return calls_.empty(); });
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
