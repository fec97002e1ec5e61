// peerlab-bootstrapctl: the admin tool of the bootstrap data service.
//
// Exit codes: 0 success; 1 the call failed (the gRPC status code name and
// message go to stderr); 2 usage error.
#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/bootstrap/admin_token.h"
#include "services/bootstrap/client/bootstrap_client.h"
#include "services/bootstrap/client/connection_check.h"
#include "services/bootstrap/client/document_format.h"
#include "base/command_line.h"
#include "base/option_checks.h"
#include "base/tls.h"
#include "base/token_file.h"
#include "base/uuid.h"

namespace {

namespace pb = ::bootstrap::v1;
using peerlab::bootstrap::BootstrapClient;

constexpr char kProgram[] = "peerlab-bootstrapctl";
constexpr double kMaxTtlSeconds = 30.0 * 24 * 3600;

// Options of `join` and `refill`.
struct PeerArgs {
  std::string name;
  std::string host;
  uint32_t port = 0;
  std::string id;
  std::optional<double> ttl_seconds;
  std::string protocol = "udp";
  std::string status;
  std::string started_at;
  std::string secret_file;
};

// --secret-file of join/leave/renew: the entry's owner secret.
void AddSecretOption(CLI::App* cmd, std::string& path) {
  cmd->add_option("--secret-file", path,
                  "file holding the entry's secret (the one join printed); "
                  "without it only the admin token changes an existing entry")
      ->check(peerlab::ReadableFile);
}

// The secret in `path`; "" when `path` is empty.
absl::StatusOr<std::string> ReadSecret(const std::string& path) {
  if (path.empty()) return std::string();
  return peerlab::ReadTokenFile(path, "--secret-file");
}

void AddPeerOptions(CLI::App* cmd, PeerArgs& args) {
  cmd->add_option("NAME", args.name, "membership node name")
      ->required()
      ->check(peerlab::NonEmpty);
  cmd->add_option("HOST", args.host,
                  "IP address or DNS name of its gossip port")
      ->required()
      ->check(peerlab::NonEmpty);
  cmd->add_option("PORT", args.port, "gossip port, 1..65535")
      ->required()
      ->check(peerlab::ConnectPortNumber);
  cmd->add_option("--id", args.id, "peer id (UUID); default: a new random one")
      ->check(peerlab::NonEmpty);
  cmd->add_option("--ttl", args.ttl_seconds,
                  "lease in seconds (1 .. 30 days; the server cuts it to its "
                  "--max-lease unless the admin token is sent); default: the "
                  "server's default lease (only the admin gets none)")
      ->check(peerlab::Range(1.0, kMaxTtlSeconds));
  cmd->add_option("--protocol", args.protocol, "tcp or udp")
      ->check(CLI::IsMember({"tcp", "udp"}))
      ->capture_default_str();
  cmd->add_option("--status", args.status, "free text, at most 64 bytes")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            return text.size() <= 64
                       ? ""
                       : absl::StrCat(text.size(),
                                      " bytes: at most 64 are allowed");
          },
          "TEXT (at most 64 bytes)", "status"));
  cmd->add_option("--started-at", args.started_at,
                  "when the peer started, RFC 3339 (e.g. "
                  "2024-05-01T12:00:00Z); default: the server's time")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            absl::Time t;
            std::string err;
            return absl::ParseTime(absl::RFC3339_full, text, &t, &err)
                       ? ""
                       : absl::StrCat("'", text,
                                      "' is not RFC 3339 (e.g. "
                                      "2024-05-01T12:00:00Z)");
          },
          "TIME (RFC 3339)", "rfc3339"));
}

// Builds the Peer of `join`/`refill`; InvalidArgument for a bad --started-at.
absl::StatusOr<pb::Peer> MakePeer(const PeerArgs& args) {
  pb::Peer peer;
  peer.set_id(args.id.empty() ? peerlab::NewUuid() : args.id);
  peer.set_name(args.name);
  peer.set_host(args.host);
  peer.set_port(args.port);
  peer.set_protocol(args.protocol == "tcp" ? pb::PROTOCOL_TCP
                                           : pb::PROTOCOL_UDP);
  peer.set_status(args.status);
  if (!args.started_at.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, args.started_at, &t, &err)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--started-at: not RFC 3339 (", err, "): ", args.started_at));
    }
    const absl::Duration since_epoch = t - absl::UnixEpoch();
    absl::Duration rem;
    const int64_t seconds =
        absl::IDivDuration(since_epoch, absl::Seconds(1), &rem);
    peer.mutable_started_at()->set_seconds(seconds);
    peer.mutable_started_at()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
  }
  return peer;
}

std::optional<absl::Duration> Ttl(const std::optional<double>& seconds) {
  if (!seconds.has_value()) return std::nullopt;
  return absl::Seconds(*seconds);
}

// Set in main: what CheckConnection needs to explain an UNAVAILABLE.
struct Target {
  std::string address;
  peerlab::TlsOptions tls;
  absl::Duration timeout = absl::Seconds(2);
};
Target* target = nullptr;

int Fail(const absl::Status& status) {
  std::cerr << kProgram << ": " << absl::StatusCodeToString(status.code())
            << ": ";
  // UNAVAILABLE: say why, when a probe of the connection can tell.
  if (status.code() == absl::StatusCode::kUnavailable && target != nullptr) {
    if (auto why = peerlab::bootstrap::CheckConnection(
            target->address, target->tls, target->timeout)) {
      std::cerr << *why << std::endl;
      return 1;
    }
  }
  std::cerr << status.message() << std::endl;
  return 1;
}

// Prints `message` as JSON (when `json`) or as `text()`.
int Print(bool json, const google::protobuf::Message& message,
          const std::function<std::string()>& text) {
  if (json) {
    auto out = peerlab::bootstrap::ToJson(message, /*pretty=*/true);
    if (!out.ok()) return Fail(out.status());
    std::cout << *out << std::flush;
  } else {
    std::cout << text() << std::flush;
  }
  return 0;
}

std::string Doc(const pb::Document& document) {
  return peerlab::bootstrap::FormatDocument(document, absl::Now());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "peerlab-bootstrapctl: admin tool of the peerlab bootstrap data service "
      "(bootstrap.v1.BootstrapData).\nExit status: 0 success, 1 the call "
      "failed (gRPC status on stderr), 2 usage error."};
  app.require_subcommand(1);
  // Global options may also follow the subcommand: `list --json`.
  app.fallthrough();

  std::string server;
  std::string token_file;
  double timeout_seconds = 5;
  bool json = false;
  app.add_option("--server", server,
                 absl::StrCat("server address HOST:PORT; default: $",
                              peerlab::bootstrap::kServerEnvVar, ", else ",
                              peerlab::bootstrap::kDefaultServerAddress))
      ->check(peerlab::ConnectHostPort);
  app.add_option("--admin-token-file", token_file,
                 "file holding the admin token (needed by reset and config "
                 "changes; also lets leave/renew/join change any entry). "
                 "Default: $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE, else, for "
                 "reset and config changes of a server on loopback, the "
                 "per-user file STATE_DIR/bootstrap-admin.token that "
                 "peerlab-bootstrap made")
      ->check(peerlab::ReadableFile);
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(app, &tls);
  app.add_option("--timeout", timeout_seconds,
                 "deadline of each command in seconds, retries included")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_flag("--json", json,
               "print the response as JSON (protobuf mapping) for scripts");

  auto* ping = app.add_subcommand("ping", "check that the server answers");
  auto* list = app.add_subcommand("list", "show the document");

  PeerArgs join_args;
  auto* join = app.add_subcommand(
      "join",
      "add a bootstrap peer (prints \"joined: no\" when the list is "
      "full; that is not an error)");
  AddPeerOptions(join, join_args);
  AddSecretOption(join, join_args.secret_file);

  std::string leave_id;
  std::string leave_secret_file;
  auto* leave = app.add_subcommand("leave", "remove a bootstrap peer");
  leave->add_option("ID", leave_id, "peer id (UUID)")
      ->required()
      ->check(peerlab::NonEmpty);
  AddSecretOption(leave, leave_secret_file);

  PeerArgs refill_args;
  auto* refill = app.add_subcommand(
      "refill",
      "offer a candidate to replace a bootstrap peer that has gone (the "
      "longest-lived peers win)");
  AddPeerOptions(refill, refill_args);

  std::string renew_id;
  std::string renew_secret_file;
  double renew_ttl = 0;
  auto* renew =
      app.add_subcommand("renew", "extend the lease of a bootstrap peer");
  renew->add_option("ID", renew_id, "peer id (UUID)")
      ->required()
      ->check(peerlab::NonEmpty);
  renew
      ->add_option("--ttl", renew_ttl,
                   "new lease in seconds from now (1 .. 30 days)")
      ->required()
      ->check(peerlab::Range(1.0, kMaxTtlSeconds));
  AddSecretOption(renew, renew_secret_file);

  auto* reset =
      app.add_subcommand("reset", "remove every peer, keep the config (admin)");

  std::optional<uint32_t> max_peers;
  std::optional<uint32_t> min_refill;
  auto* config = app.add_subcommand("config",
                                    "show the config, or change it with flags "
                                    "(changing it is an admin call)");
  config
      ->add_option("--max-peers", max_peers,
                   "how many bootstrap peers are kept (lowering it trims "
                   "the list at once; 1..10000)")
      ->check(peerlab::Range(1u, 10000u));
  config
      ->add_option("--min-refill-candidates", min_refill,
                   "how many refill candidates peers should offer (0..10000)")
      ->check(peerlab::Range(0u, 10000u));

  auto* watch = app.add_subcommand(
      "watch",
      "print the document, then each change, until Ctrl-C or the server "
      "ends the stream (--json: one JSON object per line)");

  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  // A server that closes a probe's connection must not kill the tool.
  signal(SIGPIPE, SIG_IGN);
  // The address from the environment gets the --server check too.
  const std::string address = BootstrapClient::ResolveAddress(server);
  if (auto port = peerlab::ParseHostPort(address, 1); !port.ok()) {
    std::cerr << kProgram << ": "
              << (server.empty()
                      ? absl::StrCat("$", peerlab::bootstrap::kServerEnvVar)
                      : std::string("--server"))
              << ": " << port.status().message() << std::endl;
    return 2;
  }

  BootstrapClient::Options options;
  options.address = server;
  options.deadline = absl::Seconds(timeout_seconds);
  // The per-user token (a server of this user on this machine) goes only
  // with the admin calls; a named file or $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE
  // with every call.
  const bool admin_call =
      reset->parsed() ||
      (config->parsed() && (max_peers.has_value() || min_refill.has_value()));
  auto admin = peerlab::bootstrap::FindAdminToken(token_file, address);
  const char* env_file = std::getenv(peerlab::bootstrap::kAdminTokenFileEnv);
  const bool named = !token_file.empty() || (env_file && *env_file);
  if (!admin.ok() && (named || admin_call)) {
    std::cerr << kProgram << ": " << admin.status().message() << std::endl;
    return 2;
  }
  if (admin.ok() && !admin->token.empty() && (!admin->per_user || admin_call)) {
    options.admin_token = admin->token;
  }
  // For watch, Ctrl-C (or SIGTERM) stops the stream: a helper thread takes
  // the signal with sigwait, so that stopping happens outside a signal
  // handler. Block the signals before gRPC starts threads, so that every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (watch->parsed()) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // After the mask: creating credentials may start gRPC's threads.
  auto credentials = peerlab::MakeChannelCredentials(tls);
  if (!credentials.ok()) {
    std::cerr << kProgram << ": " << credentials.status().message()
              << std::endl;
    return 2;
  }
  options.credentials = *credentials;

  BootstrapClient client(options);
  Target where{
      .address = client.address(),
      .tls = tls,
      .timeout = std::min(absl::Seconds(timeout_seconds), absl::Seconds(2))};
  target = &where;

  if (ping->parsed()) {
    auto r = client.Ping();
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      return absl::StrCat(r->message(), " from ", client.address(), " (server ",
                          r->server_version(), ", time ",
                          peerlab::bootstrap::FormatTimestamp(r->server_time()),
                          ")\n");
    });
  }
  if (list->parsed()) {
    auto r = client.List();
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] { return Doc(r->document()); });
  }
  if (join->parsed()) {
    auto peer = MakePeer(join_args);
    if (!peer.ok()) return Fail(peer.status());
    auto secret = ReadSecret(join_args.secret_file);
    if (!secret.ok()) return Fail(secret.status());
    auto r = client.Join(*peer, Ttl(join_args.ttl_seconds), *secret);
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      return absl::StrCat(
          r->joined() ? "joined: yes, id "
                      : "joined: no, the list is full; id ",
          peer->id(), "\n",
          r->secret().empty()
              ? ""
              : absl::StrCat("secret: ", r->secret(),
                             " (leave/renew/join of this entry need it: "
                             "--secret-file)\n"),
          Doc(r->document()));
    });
  }
  if (leave->parsed()) {
    auto secret = ReadSecret(leave_secret_file);
    if (!secret.ok()) return Fail(secret.status());
    auto r = client.Leave(leave_id, *secret);
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      return absl::StrCat(
          r->removed() ? "removed: yes" : "removed: no (not in the list)", "\n",
          Doc(r->document()));
    });
  }
  if (refill->parsed()) {
    auto peer = MakePeer(refill_args);
    if (!peer.ok()) return Fail(peer.status());
    auto r = client.Refill(*peer, Ttl(refill_args.ttl_seconds));
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      std::string head =
          !r->accepted() ? "accepted: no (already stored, or it is the newest)"
          : r->replaced_id().empty()
              ? "accepted: yes"
              : absl::StrCat("accepted: yes, replaced ", r->replaced_id());
      return absl::StrCat(head, "; id ", peer->id(), "\n", Doc(r->document()));
    });
  }
  if (renew->parsed()) {
    auto secret = ReadSecret(renew_secret_file);
    if (!secret.ok()) return Fail(secret.status());
    auto r = client.Renew(renew_id, absl::Seconds(renew_ttl), *secret);
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      return absl::StrCat(
          "renewed ", r->peer().id(), ": lease ",
          peerlab::bootstrap::FormatLease(r->peer(), absl::Now()), "\n",
          Doc(r->document()));
    });
  }
  if (reset->parsed()) {
    auto r = client.Reset();
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] { return Doc(r->document()); });
  }
  if (config->parsed()) {
    if (!max_peers.has_value() && !min_refill.has_value()) {
      auto r = client.List();
      if (!r.ok()) return Fail(r.status());
      return Print(json, r->document().config(), [&] {
        return peerlab::bootstrap::FormatConfig(r->document());
      });
    }
    auto r = client.UpdateConfig(max_peers, min_refill);
    if (!r.ok()) return Fail(r.status());
    return Print(json, *r, [&] {
      std::string out = peerlab::bootstrap::FormatConfig(r->document());
      for (const std::string& id : r->trimmed_ids()) {
        absl::StrAppend(&out, "trimmed ", id, "\n");
      }
      return absl::StrCat(out, Doc(r->document()));
    });
  }
  if (watch->parsed()) {
    peerlab::bootstrap::WatchStopper stopper;
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&signals, &sig);
      stopper.Stop();
    });
    int rc = 0;
    absl::Status status = client.Watch(
        [&](const pb::Document& document) {
          if (json) {
            pb::WatchResponse response;
            *response.mutable_document() = document;
            auto out = peerlab::bootstrap::ToJson(response, /*pretty=*/false);
            if (out.ok()) std::cout << *out << std::flush;
          } else {
            std::cout << Doc(document) << "\n" << std::flush;
          }
        },
        &stopper);
    if (!status.ok()) rc = Fail(status);
    // Wake the waiter if the stream ended on its own.
    if (!stopper.stopped()) pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    return rc;
  }
  return 2;
}
