#include "peer/app/bootstrap_commands.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "services/bootstrap/client/document_format.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;

void PrintDocument(const pb::Document& doc, cli::Output& out) {
  out.Print(bootstrap::FormatDocument(doc, absl::Now()));
}

}  // namespace

BootstrapCommands::BootstrapCommands(BootstrapHost* host) : host_(host) {
  if (const char* file = std::getenv(kBootstrapAdminTokenFileEnv)) {
    settings_.admin_token_file = file;
  }
}

absl::Status BootstrapCommands::Register(cli::Registry& registry,
                                         cli::ConfigRegistry& config) {
  config_ = &config;
  if (auto s = config.AddDuration(
          "bootstrap.lease",
          "lease this peer asks for its bootstrap entry (0s: the lease "
          "last granted, else 60s; the server may cut it to its "
          "--max-lease); the peer renews it every third of it",
          &settings_.lease, absl::ZeroDuration());
      !s.ok()) {
    return s;
  }
  if (auto s = config.AddString(
          "bootstrap.admin_token_file",
          "file with the bootstrap admin token for bootstrapreset/"
          "bootstrapconfig and the upkeep of departed peers' entries "
          "(default: $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE, else the per-user "
          "token of a bootstrap server on loopback)",
          &settings_.admin_token_file);
      !s.ok()) {
    return s;
  }
  // A remote caller must not point the peer at another file (whose first
  // line it would send as a bearer token).
  if (auto s = config.MarkLocalOnly("bootstrap.admin_token_file"); !s.ok()) {
    return s;
  }
  host_->SetSettingsSource([this] {
    auto lock = config_->Lock();
    return settings_;
  });
  std::vector<cli::Command> commands = {
      {.name = "bootstrap",
       .group = "bootstrap",
       .usage = "bootstrap",
       .summary = "shows the bootstrap document (config and peers)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = host_->Fetch();
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
           auto doc = host_->Fetch();
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
         auto admin = host_->AdminClient();
         if (!admin.ok()) return admin.status();
         auto r =
             (*admin)->UpdateConfig(static_cast<uint32_t>(*max), min_refill);
         if (!r.ok()) return r.status();
         host_->Remember(r->document());
         out.Print(bootstrap::FormatConfig(r->document()));
         return absl::OkStatus();
       }},
      {.name = "bootstrappeers",
       .group = "bootstrap",
       .usage = "bootstrappeers",
       .summary = "lists the bootstrap peers",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = host_->Fetch();
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
         auto joined = host_->JoinSelf();
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
         if (auto s = host_->LeaveSelf(); !s.ok()) return s;
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
         auto accepted = host_->RefillSelf();
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
         auto admin = host_->AdminClient();
         if (!admin.ok()) return admin.status();
         auto r = (*admin)->Reset();
         if (!r.ok()) return r.status();
         host_->Remember(r->document());
         out.Print("bootstrap list reset");
         return absl::OkStatus();
       }},
      {.name = "bootstraplistlocal",
       .group = "bootstrap",
       .usage = "bootstraplistlocal",
       .summary = "shows the last bootstrap document this peer received",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto doc = host_->LastDocument();
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
