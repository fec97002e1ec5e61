#include "peer/app/bootstrap_commands.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/token_file.h"
#include "google/protobuf/util/time_util.h"
#include "services/bootstrap/admin_token.h"
#include "services/bootstrap/client/document_format.h"
#include "services/bootstrap/entry_secret.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;

void PrintDocument(const pb::Document& doc, cli::Output& out) {
  out.Print(bootstrap::FormatDocument(doc, absl::Now()));
}

}  // namespace

BootstrapCommands::BootstrapCommands(bootstrap::BootstrapApi* client,
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
  if (const char* file = std::getenv(kBootstrapAdminTokenFileEnv)) {
    admin_token_file_ = file;
  }
}

bool BootstrapCommands::HasAdminToken() const {
  if (config_ == nullptr) return !admin_token_file_.empty();
  auto admin = AdminClient();
  return admin.ok() && (*admin)->options().admin_token.has_value();
}

pb::Peer BootstrapCommands::SelfPeer() const {
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

std::optional<pb::Document> BootstrapCommands::LastDocument() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void BootstrapCommands::Granted(const google::protobuf::Duration& lease,
                                bool listed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (listed) was_listed_ = true;
  if (lease.seconds() > 0 || lease.nanos() > 0) {
    granted_ =
        absl::Seconds(lease.seconds()) + absl::Nanoseconds(lease.nanos());
  }
}

void BootstrapCommands::SetOnListed(std::function<void()> on_listed) {
  std::lock_guard<std::mutex> lock(listed_mu_);  // waits for a running call
  on_listed_ = std::move(on_listed);
}

void BootstrapCommands::Listed() {
  std::lock_guard<std::mutex> lock(listed_mu_);
  if (on_listed_) on_listed_();
}

absl::Duration BootstrapCommands::EntryTtl() const {
  if (auto lease = Lease()) return *lease;
  std::lock_guard<std::mutex> lock(mu_);
  return granted_.value_or(absl::Seconds(60));
}

absl::Duration BootstrapCommands::RenewInterval() const {
  absl::Duration lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = granted_.value_or(absl::ZeroDuration());
  }
  if (lease <= absl::ZeroDuration()) lease = EntryTtl();
  return std::max(lease / 3, absl::Seconds(1));
}

absl::StatusOr<KeepOutcome> BootstrapCommands::KeepListed() {
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

void BootstrapCommands::Remember(const pb::Document& doc) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!last_.has_value() || doc.revision() >= last_->revision() ||
      doc.revision() == 0) {
    last_ = doc;
  }
}

std::optional<absl::Duration> BootstrapCommands::Lease() const {
  auto lock = config_->Lock();
  if (lease_ <= absl::ZeroDuration()) return std::nullopt;
  return lease_;
}

absl::StatusOr<std::unique_ptr<bootstrap::BootstrapApi>>
BootstrapCommands::AdminClient() const {
  std::string path;
  {
    auto lock = config_->Lock();
    path = admin_token_file_;
  }
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

absl::StatusOr<pb::Document> BootstrapCommands::Fetch() {
  auto r = client_->List();
  if (!r.ok()) return r.status();
  Remember(r->document());
  return r->document();
}

absl::StatusOr<bool> BootstrapCommands::JoinSelf() {
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

absl::Status BootstrapCommands::LeaveSelf() {
  auto r = client_->Leave(self_.id, secret_);
  if (!r.ok()) return r.status();
  Remember(r->document());
  spdlog::info("bootstrap leave: {}",
               r->removed() ? "removed" : "was not listed");
  return absl::OkStatus();
}

absl::StatusOr<bool> BootstrapCommands::RefillSelf() {
  auto r = client_->Refill(SelfPeer(), EntryTtl(), secret_);
  if (!r.ok()) return r.status();
  Remember(r->document());
  Granted(r->lease(), r->accepted());
  Listed();
  return r->accepted();
}

absl::Status BootstrapCommands::Register(cli::Registry& registry,
                                         cli::ConfigRegistry& config) {
  config_ = &config;
  if (auto s = config.AddDuration(
          "bootstrap.lease",
          "lease this peer asks for its bootstrap entry (0s: the lease "
          "last granted, else 60s; the server may cut it to its "
          "--max-lease); the peer renews it every third of it",
          &lease_, absl::ZeroDuration());
      !s.ok()) {
    return s;
  }
  if (auto s = config.AddString(
          "bootstrap.admin_token_file",
          "file with the bootstrap admin token for bootstrapreset/"
          "bootstrapconfig and the upkeep of departed peers' entries "
          "(default: $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE, else the per-user "
          "token of a bootstrap server on loopback)",
          &admin_token_file_);
      !s.ok()) {
    return s;
  }
  // A remote caller must not point the peer at another file (whose first
  // line it would send as a bearer token).
  if (auto s = config.MarkLocalOnly("bootstrap.admin_token_file"); !s.ok()) {
    return s;
  }
  std::vector<cli::Command> commands = {
      {.name = "bootstrap",
       .group = "bootstrap",
       .usage = "bootstrap",
       .summary = "shows the bootstrap document (config and peers)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = Fetch();
         if (!doc.ok()) return doc.status();
         PrintDocument(*doc, out);
         return absl::OkStatus();
       }},
      {.name = "bootstrapconfig",
       .group = "bootstrap",
       .usage = "bootstrapconfig [MAXPEERS [MINREFILLCANDIDATES]]",
       .summary = "shows the bootstrap config, or sets it (admin)",
       .max_args = 2,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         if (call.args.empty()) {
           auto doc = Fetch();
           if (!doc.ok()) return doc.status();
           out.Print(bootstrap::FormatConfig(*doc));
           return absl::OkStatus();
         }
         auto max = call.Int(0, "MAXPEERS");
         if (!max.ok()) return max.status();
         std::optional<uint32_t> min_refill;
         if (call.args.size() == 2) {
           auto m = call.Int(1, "MINREFILLCANDIDATES");
           if (!m.ok()) return m.status();
           if (*m < 0) {
             return absl::InvalidArgumentError("MINREFILLCANDIDATES: < 0");
           }
           min_refill = static_cast<uint32_t>(*m);
         }
         if (*max < 0) return absl::InvalidArgumentError("MAXPEERS: < 0");
         auto admin = AdminClient();
         if (!admin.ok()) return admin.status();
         auto r =
             (*admin)->UpdateConfig(static_cast<uint32_t>(*max), min_refill);
         if (!r.ok()) return r.status();
         Remember(r->document());
         out.Print(bootstrap::FormatConfig(r->document()));
         return absl::OkStatus();
       }},
      {.name = "bootstrappeers",
       .group = "bootstrap",
       .usage = "bootstrappeers",
       .summary = "lists the bootstrap peers",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = Fetch();
         if (!doc.ok()) return doc.status();
         for (const auto& p : doc->peers()) {
           out.Print(absl::StrCat(p.name(), " ", p.host(), ":", p.port(), " ",
                                  p.id()));
         }
         if (doc->peers().empty()) out.Print("(no bootstrap peers)");
         return absl::OkStatus();
       }},
      {.name = "bootstrapjoin",
       .group = "bootstrap",
       .usage = "bootstrapjoin",
       .summary = "adds this peer to the bootstrap list (if it has room)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto joined = JoinSelf();
         if (!joined.ok()) return joined.status();
         out.Print(*joined ? "joined the bootstrap list"
                           : "bootstrap list is full; not added");
         return absl::OkStatus();
       }},
      {.name = "bootstrapleave",
       .group = "bootstrap",
       .usage = "bootstrapleave",
       .summary = "removes this peer from the bootstrap list",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = LeaveSelf(); !s.ok()) return s;
         out.Print("left the bootstrap list");
         return absl::OkStatus();
       }},
      {.name = "bootstraprefill",
       .group = "bootstrap",
       .usage = "bootstraprefill",
       .summary =
           "offers this peer as a candidate for a vacant bootstrap place",
       .help = "The service adds the candidate when the list has room, or "
               "lets it replace the newest peer when the candidate has been "
               "up longer (longest-lived wins).",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto accepted = RefillSelf();
         if (!accepted.ok()) return accepted.status();
         out.Print(*accepted ? "refill: accepted" : "refill: not needed");
         return absl::OkStatus();
       }},
      {.name = "bootstrapreset",
       .group = "bootstrap",
       .usage = "bootstrapreset",
       .summary = "removes every bootstrap peer (admin)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto admin = AdminClient();
         if (!admin.ok()) return admin.status();
         auto r = (*admin)->Reset();
         if (!r.ok()) return r.status();
         Remember(r->document());
         out.Print("bootstrap list reset");
         return absl::OkStatus();
       }},
      {.name = "bootstraplistlocal",
       .group = "bootstrap",
       .usage = "bootstraplistlocal",
       .summary = "shows the last bootstrap document this peer received",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = LastDocument();
         if (!doc.has_value()) {
           return absl::FailedPreconditionError(
               "no bootstrap document received yet (try bootstrap)");
         }
         PrintDocument(*doc, out);
         return absl::OkStatus();
       }},
  };
  for (auto& c : commands) {
    if (auto s = registry.Register(std::move(c)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::peer
