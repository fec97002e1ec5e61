#include "peer/chat/chat_auth.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;

constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxNonceBytes = 64;
constexpr size_t kMaxSignatureBytes = 512;

void PutU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutBytes(absl::string_view b, std::string* out) {
  PutU64(b.size(), out);
  out->append(b.data(), b.size());
}

// Printable and short: names and reasons from the network go to the log.
std::string Quoted(absl::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (s.size() > 64) out += "...";
  return out + "\"";
}

}  // namespace

std::string HelloSigningBytes(const pb::ChatHello& hello) {
  std::string out;
  PutBytes(kChatHelloDomain, &out);
  PutU64(hello.version(), &out);
  PutBytes(hello.sender(), &out);
  PutU64(hello.generation(), &out);
  PutBytes(hello.receiver(), &out);
  PutBytes(hello.nonce(), &out);
  PutU64(static_cast<uint64_t>(hello.unix_ms()), &out);
  PutBytes(hello.group(), &out);
  return out;
}

absl::StatusOr<pb::ChatHello> MakeHello(const SenderAuthenticator& auth,
                                        const std::string& sender,
                                        const std::string& receiver,
                                        const std::string& group,
                                        const std::string& nonce,
                                        absl::Time now) {
  pb::ChatHello hello;
  hello.set_version(kChatHelloVersion);
  hello.set_sender(sender);
  hello.set_generation(auth.Generation());
  hello.set_receiver(receiver);
  hello.set_nonce(nonce);
  hello.set_unix_ms(absl::ToUnixMillis(now));
  hello.set_group(group);
  auto signature = auth.Sign(HelloSigningBytes(hello));
  if (!signature.ok()) return signature.status();
  hello.set_signature(*std::move(signature));
  return hello;
}

const char* RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kNoHello:
      return "no hello";
    case Refusal::kVersion:
      return "version";
    case Refusal::kMalformed:
      return "malformed";
    case Refusal::kWrongReceiver:
      return "wrong receiver";
    case Refusal::kWrongGroup:
      return "wrong group";
    case Refusal::kStale:
      return "stale";
    case Refusal::kCertificate:
      return "certificate name";
    case Refusal::kUnknownSender:
      return "unknown sender";
    case Refusal::kOldGeneration:
      return "old generation";
    case Refusal::kBadSignature:
      return "bad signature";
    case Refusal::kReplayed:
      return "replayed";
    case Refusal::kSenderField:
      return "sender field";
    case Refusal::kCount:
      break;
  }
  return "?";
}

HelloVerifier::HelloVerifier(Options options, const SenderAuthenticator* auth)
    : options_(std::move(options)), auth_(auth) {
  logged_.fill(absl::InfinitePast());
}

absl::Status HelloVerifier::Refuse(Refusal kind, const std::string& reason,
                                   absl::Time now) {
  const size_t k = static_cast<size_t>(kind);
  ++refused_[k];
  ++unlogged_[k];
  if (now - logged_[k] >= options_.log_interval) {
    spdlog::warn("chat: refused a stream ({}): {} [{} of this kind so far{}]",
                 RefusalName(kind), reason, refused_[k],
                 unlogged_[k] > 1
                     ? absl::StrCat(", ", unlogged_[k] - 1, " since last said")
                     : "");
    logged_[k] = now;
    unlogged_[k] = 0;
  }
  return absl::UnauthenticatedError(
      absl::StrCat("chat of ", options_.self, " refused the stream: ", reason));
}

void HelloVerifier::Forget(absl::Time now) {
  while (!order_.empty() && order_.front().second < now - options_.max_skew) {
    nonces_.erase(order_.front().first);
    order_.pop_front();
  }
  for (auto it = floors_.begin(); it != floors_.end();) {
    if (it->second < now - options_.max_skew) {
      it = floors_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<std::string> HelloVerifier::Check(
    const pb::ChatHello& hello, absl::Time now,
    const std::string& certificate_name, Refusal* kind) {
  auto refuse = [&](Refusal k, const std::string& reason) {
    if (kind) *kind = k;
    return Refuse(k, reason, now);
  };
  if (hello.version() != kChatHelloVersion) {
    return refuse(Refusal::kVersion,
                  absl::StrCat("chat hello version ", hello.version(),
                               " (this peer speaks ", kChatHelloVersion, ")"));
  }
  const std::string who = Quoted(hello.sender());
  if (hello.sender().empty() || hello.sender().size() > kMaxNameBytes ||
      hello.receiver().size() > kMaxNameBytes ||
      hello.group().size() > kMaxNameBytes || hello.nonce().empty() ||
      hello.nonce().size() > kMaxNonceBytes ||
      hello.signature().size() > kMaxSignatureBytes) {
    return refuse(Refusal::kMalformed,
                  absl::StrCat("malformed hello claiming to be ", who));
  }
  if (hello.receiver() != options_.self) {
    return refuse(
        Refusal::kWrongReceiver,
        absl::StrCat("hello from ", who, " is for ", Quoted(hello.receiver()),
                     ", not for ", options_.self));
  }
  const std::string group = options_.group ? options_.group() : "";
  if (hello.group() != group) {
    return refuse(
        Refusal::kWrongGroup,
        absl::StrCat("hello from ", who, " is for group ",
                     Quoted(hello.group()), ", this is ", Quoted(group)));
  }
  const absl::Time at = absl::FromUnixMillis(hello.unix_ms());
  if (at < now - options_.max_skew || at > now + options_.max_skew) {
    return refuse(
        Refusal::kStale,
        absl::StrCat("hello from ", who, " made ",
                     absl::FormatDuration(now - at), " from now (window ",
                     absl::FormatDuration(options_.max_skew), ")"));
  }
  if (!certificate_name.empty() && certificate_name != hello.sender()) {
    return refuse(
        Refusal::kCertificate,
        absl::StrCat("hello claims ", who, " over a TLS certificate of ",
                     Quoted(certificate_name)));
  }
  absl::Status verified =
      auth_ == nullptr
          ? absl::NotFoundError("no keys to check against")
          : auth_->Verify(hello.sender(), hello.generation(),
                          HelloSigningBytes(hello), hello.signature());
  if (!verified.ok()) {
    const std::string why = absl::StrCat(who, ": ", verified.message());
    switch (verified.code()) {
      case absl::StatusCode::kNotFound:
        return refuse(Refusal::kUnknownSender,
                      absl::StrCat("unknown sender ", why));
      case absl::StatusCode::kFailedPrecondition:
        return refuse(Refusal::kOldGeneration,
                      absl::StrCat("old generation of ", why));
      default:
        return refuse(Refusal::kBadSignature,
                      absl::StrCat("bad signature from ", why));
    }
  }
  Forget(now);
  auto key = std::make_pair(hello.sender(), hello.nonce());
  auto floor = floors_.find(hello.sender());
  const bool below =
      at <= floor_all_ || (floor != floors_.end() && at <= floor->second);
  if (below || nonces_.count(key)) {
    return refuse(Refusal::kReplayed,
                  absl::StrCat("replayed hello from ", who,
                               below ? " (older than the nonces kept)" : ""));
  }
  if (nonces_.size() >= options_.max_nonces && !order_.empty()) {
    const auto& [evicted, evicted_at] = order_.front();
    absl::Time& sender_floor =
        floors_.try_emplace(evicted.first, absl::InfinitePast()).first->second;
    sender_floor = std::max(sender_floor, evicted_at);
    const std::string evicted_sender = evicted.first;
    const absl::Time raised = sender_floor;
    nonces_.erase(evicted);
    order_.pop_front();
    if (floors_.size() > options_.max_nonces) {
      auto lowest = std::min_element(
          floors_.begin(), floors_.end(),
          [](const auto& a, const auto& b) { return a.second < b.second; });
      floor_all_ = std::max(floor_all_, lowest->second);
      floors_.erase(lowest);
    }
    const uint64_t n = ++nonces_evicted_;
    if ((n & (n - 1)) == 0) {  // once per power of two
      spdlog::warn(
          "chat: {} hello nonces remembered (the bound); forgot the oldest, "
          "hellos of {} before {} are now refused ({} forgotten so far)",
          options_.max_nonces, Quoted(evicted_sender), absl::FormatTime(raised),
          n);
    }
  }
  nonces_.emplace(key, at);
  order_.emplace_back(key, at);
  ++accepted_;
  return hello.sender();
}

void HelloVerifier::ResetStats() {
  refused_.fill(0);
  accepted_ = 0;
  nonces_evicted_ = 0;
}

}  // namespace peerlab::chat
