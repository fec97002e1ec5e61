// peerlab-peer: one peer of the lab, with its internal command line.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/escape.h"
#include "base/logging.h"
#include "base/metrics_endpoint.h"
#include "base/option_checks.h"
#include "base/peer_address_file.h"
#include "peer/app/harness_link.h"
#include "peer/app/peer_app.h"
#include "peer/app/peer_metrics.h"
#include "peer/app/view_log_sink.h"
#include "peer/cli/builtins.h"
#include "peer/cli/parser.h"
#include "peer/cli/session.h"
#include "peer/cli/terminal.h"
#include "peer/control/control_service.h"
#include "peer/handlers/event_filter.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "test-harness/coordinator/lab_auth.h"

namespace {

using peerlab::peer::PeerApp;
using peerlab::peer::PeerOptions;

// Logs go to logView (which the terminal shows) and to --log-file.
absl::Status SetUpPeerLogging(const PeerOptions& o,
                              peerlab::cli::ViewHub* hub) {
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level: unknown level \"", o.log_level,
                     "\" (trace, debug, info, warn, error, critical, off)"));
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<peerlab::peer::ViewLogSink>(hub));
  if (!o.log_file.empty()) {
    try {
      auto file =
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file);
      file->set_formatter(
          peerlab::MakeEscapingFormatter("%Y-%m-%dT%H:%M:%S.%e %-5l [%n] %v"));
      sinks.push_back(file);
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--log-file: cannot open ", o.log_file, ": ", e.what()));
    }
  }
  auto logger =
      std::make_shared<spdlog::logger>(o.name, sinks.begin(), sinks.end());
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "peerlab-peer: a peer of the lab with its internal command line. "
      "Commands come from --exec, --script, the interactive prompt (on a "
      "terminal) or standard input (piped), and remotely through "
      "peer.v1.PeerControl on the gRPC port. Type help for the commands."};
  PeerOptions o;
  if (const char* env = std::getenv("BOOTSTRAP_DATA_SERVER")) o.bootstrap = env;
  cli.add_option("NAME", o.name, "this peer's name (membership node name)")
      ->required()
      ->check(peerlab::MemberName);
  cli.add_option("--bootstrap", o.bootstrap,
                 "bootstrap service address HOST:PORT (default "
                 "$BOOTSTRAP_DATA_SERVER, then 127.0.0.1:8080)")
      ->check(peerlab::ConnectHostPort);
  cli.add_option("--bind", o.bind, "IPv4 address of the gossip and gRPC ports")
      ->check(CLI::ValidIPV4)
      ->capture_default_str();
  cli.add_option("--advertise-host", o.advertise_host,
                 "host name others dial for the gRPC port (chat, membership, "
                 "remote control), e.g. a pod's DNS name that its TLS "
                 "certificate names (default: --bind; gossip always uses "
                 "--bind)")
      ->check(peerlab::HostName(peerlab::peer::kMaxAdvertiseHost));
  cli.add_option("--gossip-port", o.gossip_port,
                 "UDP gossip port (0: free one)")
      ->check(peerlab::PortNumber)
      ->capture_default_str();
  cli.add_option("--grpc-port", o.grpc_port,
                 "gRPC port: remote control, later chat and membership (0: "
                 "free one)")
      ->check(peerlab::PortNumber)
      ->capture_default_str();
  cli.add_option("--log-file", o.log_file, "also log to this file")
      ->check(peerlab::WritableFile);
  cli.add_option("--log-level", o.log_level,
                 "trace, debug, info, warn, error, critical, off")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  cli.add_option("--config", o.config_file, "load settings from this JSON file")
      ->check(peerlab::ReadableFile);
  auto* token_option =
      cli.add_option("--control-token-file", o.control_token_file,
                     "token remote callers must send (default "
                     "$PEERLAB_CONTROL_TOKEN_FILE; without either, a fresh "
                     "token in this user's state directory, "
                     "nodes/NAME/control.token); required when --bind is not "
                     "a loopback address")
          ->check(peerlab::ReadableFile);
  cli.add_flag("--control-open-loopback", o.control_open_loopback,
               "take control calls on a loopback --bind without a token (any "
               "local user can then run shell as this user)")
      ->excludes(token_option);
  cli.add_option("--history-file", o.history_file,
                 "prompt history (default ~/.peerlab_history)")
      ->check(peerlab::WritableFile);
  cli.add_option("--ready-file", o.ready_file,
                 "write the gRPC address to this file once serving")
      ->check(peerlab::WritableFile);
  cli.add_option("--state-dir", o.state_dir,
                 "directory of the node's own key and restart generation "
                 "(default $PEERLAB_STATE_DIR, $XDG_STATE_HOME/peerlab or "
                 "~/.local/state/peerlab)")
      ->check(peerlab::WritableDirectory);
  cli.add_flag("--no-init", o.no_init, "skip the start-up sequence (init)");
  cli.add_flag("--serve", o.serve,
               "do not read standard input; run until exit, quit or a signal "
               "(for peers driven remotely)");
  cli.add_flag("--test", o.test, "test mode: driven by the harness");
  cli.add_option("--coordinator", o.coordinator,
                 "harness coordinator address HOST:PORT")
      ->check(peerlab::ConnectHostPort);
  cli.add_option("--token-file", o.token_file,
                 "with --coordinator: the lab token, proved (never sent) to "
                 "register (default: <state dir>/coordinator.token, made "
                 "when missing)")
      ->check(peerlab::ReadableFile);
  cli.add_option("--exec", o.exec, "run this command line first (repeatable)")
      ->check(peerlab::NonEmpty);
  cli.add_option("--script", o.script, "run the commands in FILE first")
      ->check(peerlab::ReadableFile);
  cli.add_flag("--insecure-gossip", o.insecure_gossip,
               "membership gossip in the clear when no memberlist.keyfile is "
               "set (default: the per-user group key, "
               "<state dir>/gossip.keys, made on first use); for teaching");
  cli.add_option("--group-label", o.group_label,
                 "group label (memberlist.label): only members with the same "
                 "label are accepted, so two labs on one network never merge "
                 "(default: none)")
      ->check(peerlab::GroupLabel);
  peerlab::AddTlsFlags(cli, &o.tls);
  peerlab::MetricsOptions metrics_options;
  peerlab::AddMetricsFlags(cli, &metrics_options);
  cli.add_option("--event-handler", o.event_handlers,
                 "[FILTER=]PROGRAM [ARGS]: run PROGRAM (no shell) for the "
                 "events FILTER passes (member-join, member-leave, "
                 "member-failed, member-update, member-reap, user[:NAME], "
                 "query[:NAME], *; comma lists); repeatable. See `help "
                 "handler`")
      ->check(CLI::Validator(
          [](std::string& spec) -> std::string {
            auto parsed = peerlab::handlers::ParseHandlerSpec(spec);
            return parsed.ok() ? "" : std::string(parsed.status().message());
          },
          "[FILTER=]PROGRAM", "event handler"))
      // One spec an occurrence: `--event-handler SPEC NAME` leaves NAME.
      ->allow_extra_args(false);
  if (auto code = peerlab::ParseCommandLine(cli, argc, argv)) return *code;
  if (auto s = peerlab::CheckMetricsOptions(metrics_options); !s.ok()) {
    std::cerr << "peerlab-peer: " << s.message() << "\n";
    return 2;
  }
  if (o.insecure_gossip) {
    std::cerr << "peerlab-peer: warning: --insecure-gossip: without "
                 "memberlist.keyfile, membership gossip is unencrypted and "
                 "unauthenticated (anyone who reaches the ports can read the "
                 "member list and forge members)\n";
  }
  std::string lab_token;  // with --coordinator: the harness's lab token
  if (!o.coordinator.empty()) {
    auto token = peerlab::harness::LoadLabToken(o.token_file, "--token-file");
    if (!token.ok()) {
      std::cerr << "peerlab-peer: " << token.status().message() << "\n";
      return 2;
    }
    lab_token = *std::move(token);
  }
  if (!o.bootstrap.empty()) {
    if (auto port = peerlab::ParseHostPort(o.bootstrap, 1); !port.ok()) {
      std::cerr << "peerlab-peer: --bootstrap (or $BOOTSTRAP_DATA_SERVER): "
                << port.status().message() << "\n";
      return 2;
    }
  }
  // Local control is the owner's: a token from --control-token-file, else
  // $PEERLAB_CONTROL_TOKEN_FILE, else (on loopback) a fresh one only this
  // user can read; --control-open-loopback opts out.
  std::unique_ptr<peerlab::NodeControlToken> node_token;
  std::string control_token_problem;  // why no token file could be made
  if (o.control_token_file.empty() && !o.control_open_loopback) {
    const char* env = std::getenv(peerlab::kControlTokenFileEnv);
    if (env != nullptr && *env != '\0') o.control_token_file = env;
  }
  if (o.control_token_file.empty() && !o.control_open_loopback &&
      o.bind.rfind("127.", 0) == 0) {
    auto made = peerlab::NodeControlToken::Create(o.name, o.state_dir);
    if (made.ok()) {
      node_token = *std::move(made);
      o.control_token_file = node_token->path();
    } else {
      // Still closed: a token nobody is told, so no remote control this run.
      auto token = peerlab::RandomControlToken();
      if (!token.ok()) {
        std::cerr << "peerlab-peer: control token: " << token.status().message()
                  << "\n";
        return 2;
      }
      o.control_token = *token;
      control_token_problem = std::string(made.status().message());
    }
  }
  if (!o.control_token_file.empty()) {
    // Exported: what the peer starts (shell) finds its token too.
    ::setenv(peerlab::kControlTokenFileEnv, o.control_token_file.c_str(), 1);
  }
  // Test mode: driven by the harness, which runs `init` when the script
  // says so.
  if (o.test) {
    o.serve = true;
    o.no_init = true;
  }

  // SIGTERM and SIGHUP always, SIGINT unless a prompt owns the terminal,
  // end the peer cleanly; a signal thread takes them (blocked before threads
  // start).
  const bool interactive =
      !o.serve && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  if (!interactive) sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto app_or = PeerApp::Create(o);
  if (!app_or.ok()) {
    std::cerr << "peerlab-peer: " << app_or.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<PeerApp> app = *std::move(app_or);
  if (auto s = SetUpPeerLogging(o, &app->views()); !s.ok()) {
    std::cerr << "peerlab-peer: " << s.message() << "\n";
    return 2;
  }
  // Metrics (only with --metrics-listen): membership and chat counters,
  // read from the hosts at each scrape.
  peerlab::metrics::Registry metrics_registry;
  peerlab::peer::AddPeerCollectors(&metrics_registry, app.get());
  auto metrics_server =
      peerlab::StartMetricsServer(metrics_options, &metrics_registry);
  if (!metrics_server.ok()) {
    std::cerr << "peerlab-peer: " << metrics_server.status().message() << "\n";
    return 2;
  }
  peerlab::cli::Terminal terminal(&app->views(), interactive);
  // `exit` from anywhere (a remote caller too) ends the terminal's wait for
  // input.
  app->SetExitListener([&terminal] { terminal.Wake(); });

  // The first signal starts the way out (running commands are cancelled,
  // the main thread leaves and ends); a second one ends at once.
  std::atomic<bool> ending{false};
  std::thread signal_thread([&] {
    bool leaving = false;
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (ending) return;
      if (leaving) {
        spdlog::warn("{} received again: ending without waiting for the leave",
                     strsignal(sig));
        spdlog::default_logger()->flush();
        std::_Exit(128 + sig);
      }
      leaving = true;
      spdlog::info("{} received: leaving", strsignal(sig));
      app->CancelCommands(
          absl::StrCat("the peer is shutting down (", strsignal(sig), ")"));
      app->RequestExit(0);
      terminal.Wake();
    }
  });
  spdlog::info("peer {} ({}) up: control {}, gossip {}:{}", app->name(),
               app->id(), app->control_address(), o.bind, app->gossip_port());
  if (*metrics_server) {
    spdlog::info("metrics on http://{}/metrics{}", (*metrics_server)->address(),
                 metrics_options.token_file.empty() ? "" : " (bearer token)");
  }
  if (!control_token_problem.empty()) {
    spdlog::warn(
        "no control token file: {}; remote control is closed for this run "
        "(give --control-token-file FILE to use it)",
        control_token_problem);
  } else if (o.control_open_loopback) {
    spdlog::warn(
        "--control-open-loopback: PeerControl on {} takes calls without a "
        "token; any user of this machine can run commands (shell too) as "
        "this peer's user",
        app->control_address());
  } else if (!o.control_token_file.empty()) {
    spdlog::info(
        "control token in {} ({}; clients find it there, through "
        "--control-token-file or ${})",
        o.control_token_file,
        node_token ? "made for this run, readable by this user only"
                   : "given to this peer",
        peerlab::kControlTokenFileEnv);
    struct stat st;
    if (!node_token && ::stat(o.control_token_file.c_str(), &st) == 0 &&
        (st.st_mode & 077) != 0) {
      spdlog::warn(
          "control token file {} is readable or writable by other users "
          "(mode {:04o}): they can run commands in this peer; run: chmod 600 "
          "{}",
          o.control_token_file, st.st_mode & 07777, o.control_token_file);
    }
  }
  if (o.test && o.coordinator.empty()) {
    spdlog::info(
        "test mode without --coordinator: waiting for commands through "
        "peer.v1.PeerControl on {} (init runs when a command says so; exit "
        "or quit ends the peer)",
        app->control_address());
  }
  // Where local clients (peerlab-ctl) find this peer without being told:
  // its address in the state directory (base/peer_address_file.h).
  std::unique_ptr<peerlab::PeerAddressFile> address_file;
  if (auto made = peerlab::PeerAddressFile::Create(
          app->name(), app->control_address(), o.state_dir);
      made.ok()) {
    address_file = *std::move(made);
  } else {
    spdlog::warn("no address file for local clients: {}",
                 made.status().message());
  }
  if (!o.ready_file.empty()) {
    std::ofstream ready(o.ready_file);
    ready << app->control_address() << "\n";
    if (!ready.flush()) {
      spdlog::error("--ready-file {}: cannot write it", o.ready_file);
    }
  }
  std::unique_ptr<peerlab::peer::HarnessLink> harness_link;
  peerlab::cli::ViewOutput out(&app->views());
  int failures = 0;
  auto run = [&](const std::string& line) -> absl::Status {
    if (app->exit_requested()) return absl::OkStatus();
    absl::Status s = peerlab::cli::RunLine(app->registry(), line, out);
    if (!s.ok()) ++failures;
    return s;
  };
  if (!o.no_init && app->registry().Find("init").has_value()) {
    // A name held by a live member: this peer cannot be one; exit 1.
    if (absl::IsAlreadyExists(run("init"))) app->RequestExit(1);
  }
  for (const std::string& line : o.exec) run(line).IgnoreError();
  // Registered only now: the owner's --exec settings (shell.allow_remote…)
  // hold before the coordinator can reach this peer.
  if (!o.coordinator.empty()) {
    // The coordinator reaches PeerControl with the session token of this
    // peer's registration; what it runs obeys the peer's own rules.
    auto session = std::make_shared<peerlab::peer::HarnessSession>();
    app->control_service()->SetAlsoAccept(
        [session](absl::string_view t) { return session->Matches(t); });
    harness_link = std::make_unique<peerlab::peer::HarnessLink>(
        peerlab::peer::HarnessLink::Options{
            .coordinator = o.coordinator,
            .name = app->name(),
            .control_address = app->control_address(),
            .token = lab_token,
            .generation =
                static_cast<uint64_t>(absl::ToUnixMillis(app->started_at())),
            .session = session,
            .credentials = app->channel_credentials()});
  }

  if (!o.script.empty()) {
    run("execute " + peerlab::cli::QuoteWord(o.script)).IgnoreError();
  }

  if (!app->exit_requested()) {
    if (o.serve) {
      app->WaitForExit();
    } else {
      failures += terminal.Run(app->registry(), app->name(), o.history_file,
                               [&] { return app->exit_requested(); });
    }
  }

  // Every way out leaves the same way: end of input, Ctrl-D, exit, quit
  // (already left: a no-op) and signals. Scrapes end first: they read
  // the hosts.
  metrics_server->reset();
  app->Shutdown(app->exit_requested() ? "the peer is shutting down"
                                      : "the peer is shutting down (end of "
                                        "input)");
  // `exit CODE` decides; otherwise the code says whether every command
  // succeeded.
  int code = app->exit_requested() && app->exit_code() >= 0
                 ? app->exit_code()
                 : (failures ? 1 : 0);
  spdlog::info("peer {} stopped (exit code {})", app->name(), code);
  ending = true;
  pthread_kill(signal_thread.native_handle(), SIGTERM);  // unblock sigwait
  signal_thread.join();
  terminal.Stop();
  // The server answers every remote command still running (a remote `exit`
  // too) before it stops; only then does the coordinator see the peer go.
  app.reset();
  harness_link.reset();
  node_token.reset();    // removes the token file made for this run
  address_file.reset();  // and the address file
  return code;
}
