#include "peer/app/bootstrap_host.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/token_file.h"
#include "google/protobuf/util/time_util.h"
#include "services/bootstrap/admin_token.h"
#include "services/bootstrap/entry_secret.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;

}  // namespace

BootstrapHost::BootstrapHost(bootstrap::BootstrapApi* client,
                             SelfDescription self)
    : client_(client), self_(std::move(self)) {
  auto secret = bootstrap::NewEntrySecret();
  if (secret.ok()) {
    secret_ = *std::move(secret);
  } else {
    // The client then makes one per call: this peer cannot leave or update
    // its entry later, which its lease (or the upkeep) ends.
    spdlog::warn("bootstrap: {}", secret.status().message());
  }
}

void BootstrapHost::SetSettingsSource(
    std::function<BootstrapSettings()> source) {
  settings_source_ = std::move(source);
}

BootstrapSettings BootstrapHost::Settings() const {
  if (settings_source_) return settings_source_();
  BootstrapSettings s;
  if (const char* file = std::getenv(kBootstrapAdminTokenFileEnv)) {
    s.admin_token_file = file;
  }
  return s;
}

bool BootstrapHost::HasAdminToken() const {
  if (!settings_source_) return !Settings().admin_token_file.empty();
  auto admin = AdminClient();
  return admin.ok() && (*admin)->options().admin_token.has_value();
}

pb::Peer BootstrapHost::SelfPeer() const {
  pb::Peer peer;
  peer.set_id(self_.id);
  peer.set_name(self_.name);
  peer.set_host(self_.host);
  peer.set_port(self_.port);
  peer.set_protocol(pb::PROTOCOL_UDP);
  peer.set_status("alive");
  *peer.mutable_started_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(self_.started_at));
  return peer;
}

std::optional<pb::Document> BootstrapHost::LastDocument() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void BootstrapHost::Granted(const google::protobuf::Duration& lease,
                            bool listed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (listed) was_listed_ = true;
  if (lease.seconds() > 0 || lease.nanos() > 0) {
    granted_ =
        absl::Seconds(lease.seconds()) + absl::Nanoseconds(lease.nanos());
  }
}

void BootstrapHost::SetOnListed(std::function<void()> on_listed) {
  std::lock_guard<std::mutex> lock(listed_mu_);  // waits for a running call
  on_listed_ = std::move(on_listed);
}

void BootstrapHost::Listed() {
  std::lock_guard<std::mutex> lock(listed_mu_);
  if (on_listed_) on_listed_();
}

absl::Duration BootstrapHost::EntryTtl() const {
  if (auto lease = Lease()) return *lease;
  std::lock_guard<std::mutex> lock(mu_);
  return granted_.value_or(absl::Seconds(60));
}

absl::Duration BootstrapHost::RenewInterval() const {
  absl::Duration lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = granted_.value_or(absl::ZeroDuration());
  }
  if (lease <= absl::ZeroDuration()) lease = EntryTtl();
  return std::max(lease / 3, absl::Seconds(1));
}

absl::StatusOr<KeepOutcome> BootstrapHost::KeepListed() {
  const absl::Duration ttl = EntryTtl();
  auto r = client_->Renew(self_.id, ttl, secret_);
  if (r.ok()) {
    Remember(r->document());
    Granted(r->lease(), true);
    return KeepOutcome::kRenewed;
  }
  if (absl::IsNotFound(r.status())) {
    bool was_listed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_listed = was_listed_;
    }
    if (!was_listed) return KeepOutcome::kNotListed;
    auto joined = JoinSelf();
    if (!joined.ok()) return joined.status();
    return *joined ? KeepOutcome::kRejoined : KeepOutcome::kListFull;
  }
  if (absl::IsPermissionDenied(r.status())) {
    // Another peer's upkeep offered this peer (its entry, its secret).
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_listed_ = true;  // when it ends, this peer joins anew
    }
    auto admin = AdminClient();
    if (!admin.ok() || !(*admin)->options().admin_token.has_value()) {
      return KeepOutcome::kNotOurs;
    }
    auto again = (*admin)->Renew(self_.id, ttl);
    if (!again.ok()) return again.status();
    Remember(again->document());
    Granted(again->lease(), true);
    return KeepOutcome::kRenewedAsAdmin;
  }
  return r.status();
}

void BootstrapHost::Remember(const pb::Document& doc) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!last_.has_value() || doc.revision() >= last_->revision() ||
      doc.revision() == 0) {
    last_ = doc;
  }
}

std::optional<absl::Duration> BootstrapHost::Lease() const {
  const absl::Duration lease = Settings().lease;
  if (lease <= absl::ZeroDuration()) return std::nullopt;
  return lease;
}

absl::StatusOr<std::unique_ptr<bootstrap::BootstrapApi>>
BootstrapHost::AdminClient() const {
  const std::string path = Settings().admin_token_file;
  bootstrap::BootstrapClient::Options options = client_->options();
  options.address = client_->address();
  if (!path.empty()) {
    auto token = ReadTokenFile(path, "bootstrap.admin_token_file");
    if (!token.ok()) return token.status();
    options.admin_token = *token;
  } else if (auto found = bootstrap::FindAdminToken("", options.address);
             found.ok() && !found->token.empty()) {
    // The per-user token of a server of this user on this machine.
    options.admin_token = found->token;
  }
  return client_->Connect(std::move(options));
}

absl::StatusOr<pb::Document> BootstrapHost::Fetch() {
  auto r = client_->List();
  if (!r.ok()) return r.status();
  Remember(r->document());
  return r->document();
}

absl::StatusOr<bool> BootstrapHost::JoinSelf() {
  auto r = client_->Join(SelfPeer(), EntryTtl(), secret_);
  if (!r.ok()) return r.status();
  Remember(r->document());
  Granted(r->lease(), r->joined());
  Listed();  // even when full: another's refill may list it later
  spdlog::info("bootstrap join: {} (revision {})",
               r->joined() ? "joined" : "list full, not added",
               r->document().revision());
  return r->joined();
}

absl::Status BootstrapHost::LeaveSelf() {
  auto r = client_->Leave(self_.id, secret_);
  if (!r.ok()) return r.status();
  Remember(r->document());
  spdlog::info("bootstrap leave: {}",
               r->removed() ? "removed" : "was not listed");
  return absl::OkStatus();
}

absl::StatusOr<bool> BootstrapHost::RefillSelf() {
  auto r = client_->Refill(SelfPeer(), EntryTtl(), secret_);
  if (!r.ok()) return r.status();
  Remember(r->document());
  Granted(r->lease(), r->accepted());
  Listed();
  return r->accepted();
}

}  // namespace peerlab::peer
