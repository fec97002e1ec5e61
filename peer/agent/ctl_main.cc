// peerlab-ctl: the operator's client of a running peer's peer.v1.Agent,
// with Serf's CLI habits (docs/agent.md):
//
//   peerlab-ctl members [--status S]... [--tag K=RE]... [--name RE]
//   peerlab-ctl monitor [--level L] [--filter F]...
//   peerlab-ctl event NAME [PAYLOAD] [--coalesce]
//   peerlab-ctl query NAME [PAYLOAD] [--node N]... [--tag K=RE]...
//                     [--timeout S] [--ack] [--relay N]
//   peerlab-ctl tags [--set K=V]... [--remove K]...
//   peerlab-ctl info | force-leave NAME [--prune] | rtt A [B]
//   peerlab-ctl reachability | keys --list|--install K|--use K|--remove K
//
// Every command takes --rpc-addr, --json, --control-token-file, --peer NAME,
// the TLS flags and --help. The peer called is --rpc-addr, else
// $PEERLAB_RPC_ADDR, else the address file of --peer NAME, else the one
// peer of this user running on this machine (base/peer_address_file.h);
// its token is found as by every PeerControl client (base/control_token.h). A
// table by default; --json prints the answer as JSON (ctl_format.h). Exit
// codes: 0 ok, 1 the call or the operation failed (the reason on stderr), 2
// usage error.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/grpc_status.h"
#include "base/option_checks.h"
#include "base/peer_address_file.h"
#include "base/tls.h"
#include "peer/agent/ctl_format.h"
#include "proto/peer/v1/agent.grpc.pb.h"

namespace {

namespace pb = ::peer::v1;
using peerlab::agent::Dump;

constexpr char kProgram[] = "peerlab-ctl";
using peerlab::kRpcAddrEnv;

// Options every command takes.
struct Common {
  std::string rpc_addr;
  bool json = false;
  std::string token_file;
  std::string peer;
  double timeout = 30;
  peerlab::TlsOptions tls;
};

// `timeout` is the command's --timeout (c.timeout, or its own variable
// when its default differs).
void AddCommon(CLI::App* cmd, Common& c, const std::string& timeout_help,
               double* timeout = nullptr) {
  cmd->add_option("--rpc-addr", c.rpc_addr,
                  absl::StrCat("the peer's gRPC address HOST:PORT (default $",
                               kRpcAddrEnv,
                               ", else the address file of --peer NAME, else "
                               "the one peer running here)"))
      ->check(peerlab::ConnectHostPort);
  cmd->add_flag("--json", c.json, "print the answer as JSON");
  cmd->add_option("--control-token-file", c.token_file,
                  "file holding the peer's control token (default "
                  "$PEERLAB_CONTROL_TOKEN_FILE, else the token file of --peer "
                  "NAME on this machine)")
      ->check(peerlab::ReadableFile);
  cmd->add_option("--peer", c.peer,
                  "the peer's name: use its address and token files on this "
                  "machine")
      ->check(peerlab::MemberName);
  peerlab::AddTimeoutOption(*cmd, timeout ? timeout : &c.timeout, timeout_help);
  peerlab::AddTlsFlags(*cmd, &c.tls);
}

// A failed call: one line on stderr, exit code 1.
int Fail(const Common& c, const std::string& what, const grpc::Status& s) {
  std::cerr << kProgram << ": " << what << " at " << c.rpc_addr << ": "
            << peerlab::FromGrpcStatus(s).ToString();
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    std::cerr << " (give --peer NAME or --control-token-file FILE)";
  }
  std::cerr << "\n";
  return 1;
}

void SetDuration(double seconds, google::protobuf::Duration* out) {
  const int64_t nanos = static_cast<int64_t>(seconds * 1e9);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

// "K=RE" options into a map.
void AddPairs(const std::vector<std::string>& pairs,
              google::protobuf::Map<std::string, std::string>* out) {
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    (*out)[p.substr(0, eq)] = p.substr(eq + 1);
  }
}

// Cancels `context` at SIGINT or SIGTERM (for the commands that follow a
// stream until interrupted). The signals must be blocked in every thread
// (main blocks them before the first gRPC call).
void CancelOnSignal(grpc::ClientContext* context, sigset_t signals,
                    bool* interrupted) {
  std::thread([context, signals, interrupted] {
    int sig = 0;
    if (sigwait(&signals, &sig) == 0) {
      *interrupted = true;
      context->TryCancel();
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "peerlab-ctl: the operator's client of a running peer "
      "(peer.v1.Agent): members, events, queries, tags, statistics, "
      "coordinates, keys. A table by default, JSON with --json. Exit codes: "
      "0 ok, 1 failed, 2 usage error. See docs/agent.md."};
  app.require_subcommand(1);
  Common c;

  // members
  std::vector<std::string> statuses, member_tags;
  std::string name_re;
  CLI::App* members = app.add_subcommand(
      "members", "the members this peer knows, with their status and tags");
  members
      ->add_option("--status", statuses,
                   "only members with this status: alive, suspect, failed, "
                   "left (repeatable)")
      ->check(CLI::IsMember({"alive", "suspect", "failed", "left"},
                            CLI::ignore_case));
  members
      ->add_option("--tag", member_tags,
                   "only members whose tag KEY matches the regular "
                   "expression RE (anchored; repeatable): --tag role=web.*")
      ->check(peerlab::KeyValue);
  members
      ->add_option("--name", name_re,
                   "only members whose name matches this regular expression")
      ->check(peerlab::NonEmpty);
  AddCommon(members, c, "seconds to wait for the answer");

  // monitor
  std::string level = "info";
  std::vector<std::string> filters;
  CLI::App* monitor = app.add_subcommand(
      "monitor", "follow the peer's log (and events) until interrupted");
  monitor
      ->add_option("--level", level,
                   "lowest log level shown: trace, debug, info, warn, error, "
                   "critical")
      ->check(CLI::IsMember(
          {"trace", "debug", "info", "warn", "warning", "error", "critical"},
          CLI::ignore_case))
      ->capture_default_str();
  monitor
      ->add_option("--filter", filters,
                   "also show these events: member, member-join, "
                   "member-leave, member-failed, member-update, "
                   "member-suspect, member-alive, user, user:NAME, query, "
                   "query:NAME (repeatable)")
      ->check(peerlab::NonEmpty);
  AddCommon(monitor, c, "seconds to wait for the stream to open");

  // event
  std::string event_name, event_payload;
  bool coalesce = false;
  CLI::App* event =
      app.add_subcommand("event", "send a user event to every member");
  event->add_option("NAME", event_name, "the event's name")
      ->required()
      ->check(peerlab::NonEmpty);
  event->add_option("PAYLOAD", event_payload, "the event's payload");
  event->add_flag("--coalesce", coalesce,
                  "a newer event of the same name may replace this one");
  AddCommon(event, c, "seconds to wait for the answer");

  // query
  std::string query_name, query_payload;
  std::vector<std::string> query_nodes, query_tags;
  bool ack = false;
  unsigned relay = 0;
  double query_timeout = 0;
  CLI::App* query = app.add_subcommand(
      "query", "ask the members; print acks and responses as they come");
  query->add_option("NAME", query_name, "the query's name")
      ->required()
      ->check(peerlab::NonEmpty);
  query->add_option("PAYLOAD", query_payload, "the query's payload");
  query
      ->add_option("--node", query_nodes,
                   "only this member answers (repeatable)")
      ->check(peerlab::MemberName);
  query
      ->add_option("--tag", query_tags,
                   "only members whose tag KEY matches RE answer (repeatable)")
      ->check(peerlab::KeyValue);
  query->add_flag("--ack", ack, "members acknowledge receipt");
  query
      ->add_option("--relay", relay,
                   "relay each answer through this many other members")
      ->check(peerlab::Range(0, 5))
      ->capture_default_str();
  query
      ->add_option("--query-timeout", query_timeout,
                   "seconds the members have to answer (default: the peer's, "
                   "as Serf's)")
      ->check(peerlab::Range(0.001, 600));
  AddCommon(query, c, "seconds to wait beyond the query's own timeout");

  // tags
  std::vector<std::string> set_tags, remove_tags;
  CLI::App* tags = app.add_subcommand(
      "tags", "this peer's tags; --set and --remove change them");
  tags->add_option("--set", set_tags, "set tag KEY to VALUE (repeatable)")
      ->check(peerlab::KeyValue);
  tags->add_option("--remove", remove_tags, "remove tag KEY (repeatable)")
      ->check(peerlab::NonEmpty);
  AddCommon(tags, c, "seconds to wait for the answer");

  // info
  CLI::App* info = app.add_subcommand("info", "this peer and its statistics");
  AddCommon(info, c, "seconds to wait for the answer");

  // force-leave
  std::string leave_name;
  bool prune = false;
  CLI::App* force_leave =
      app.add_subcommand("force-leave", "mark a failed member as left");
  force_leave->add_option("NAME", leave_name, "the member")
      ->required()
      ->check(peerlab::MemberName);
  force_leave->add_flag("--prune", prune, "also forget it at once");
  AddCommon(force_leave, c, "seconds to wait for the answer");

  // rtt
  std::vector<std::string> rtt_nodes;
  CLI::App* rtt = app.add_subcommand(
      "rtt", "estimated round trip between two members (or this peer and one)");
  rtt->add_option("NODES", rtt_nodes, "A [B]")
      ->required()
      ->expected(1, 2)
      ->check(peerlab::MemberName);
  AddCommon(rtt, c, "seconds to wait for the answer");

  // reachability
  CLI::App* reach = app.add_subcommand(
      "reachability", "a query every member acks: who does not answer");
  AddCommon(reach, c, "seconds to wait beyond the query's own timeout");

  // keys
  bool keys_list = false;
  std::string install_key, use_key, remove_key;
  CLI::App* keys =
      app.add_subcommand("keys", "gossip encryption keys across the cluster");
  auto* list_flag =
      keys->add_flag("--list", keys_list, "which keys the members hold");
  auto* install_opt =
      keys->add_option("--install", install_key,
                       "every member accepts KEY (base64 of 32 bytes)")
          ->check(peerlab::NonEmpty);
  auto* use_opt = keys->add_option("--use", use_key,
                                   "every member seals with KEY (install it "
                                   "first)")
                      ->check(peerlab::NonEmpty);
  auto* remove_opt =
      keys->add_option("--remove", remove_key,
                       "every member stops accepting KEY (not the primary)")
          ->check(peerlab::NonEmpty);
  list_flag->excludes(install_opt)->excludes(use_opt)->excludes(remove_opt);
  install_opt->excludes(use_opt)->excludes(remove_opt);
  use_opt->excludes(remove_opt);
  double keys_timeout = 5;
  AddCommon(keys, c, "seconds the members have to answer", &keys_timeout);

  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;

  if (keys->parsed() && !keys_list && install_key.empty() && use_key.empty() &&
      remove_key.empty()) {
    std::cerr << kProgram
              << ": keys: say which: --list, --install KEY, --use KEY or "
                 "--remove KEY\nRun with --help for more information.\n";
    return peerlab::kUsageExitCode;
  }
  if (tags->parsed()) {
    for (const std::string& k : remove_tags) {
      if (k.find('=') != std::string::npos) {
        std::cerr << kProgram << ": --remove: give the KEY alone, not " << k
                  << "\n";
        return peerlab::kUsageExitCode;
      }
    }
  }

  if (c.rpc_addr.empty()) {
    const char* env = std::getenv(kRpcAddrEnv);
    const bool from_env = env != nullptr && *env != '\0';
    absl::StatusOr<peerlab::LocalPeer> found =
        peerlab::ResolvePeerAddress("", c.peer);
    if (!found.ok()) {
      std::cerr << kProgram << ": " << found.status().message() << "\n";
      // Several peers and none named: a usage error; none found: a failure.
      return absl::IsInvalidArgument(found.status()) ? peerlab::kUsageExitCode
                                                     : 1;
    }
    c.rpc_addr = found->address;
    if (auto port = peerlab::ParseHostPort(c.rpc_addr, 1); !port.ok()) {
      std::cerr << kProgram << ": "
                << (from_env ? absl::StrCat("$", kRpcAddrEnv) : found->path)
                << ": " << port.status().message() << "\n";
      return peerlab::kUsageExitCode;
    }
    // The token of the peer found by its file (unless told otherwise).
    if (c.peer.empty()) c.peer = found->name;
  }
  // The streams end at SIGINT/SIGTERM: blocked here, before any thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<peerlab::ControlToken> token =
      peerlab::FindControlToken(c.token_file, c.peer);
  if (!token.ok()) {
    std::cerr << kProgram << ": " << token.status().message() << "\n";
    return peerlab::kUsageExitCode;
  }
  auto credentials = peerlab::MakeChannelCredentials(c.tls);
  if (!credentials.ok()) {
    std::cerr << kProgram << ": " << credentials.status().message() << "\n";
    return peerlab::kUsageExitCode;
  }
  auto stub = pb::Agent::NewStub(
      peerlab::NewChannelWithToken(c.rpc_addr, *credentials, token->token));
  grpc::ClientContext context;

  if (members->parsed()) {
    pb::AgentMembersRequest request;
    for (const std::string& s : statuses) {
      request.add_statuses(static_cast<pb::AgentMember::Status>(
          peerlab::agent::StatusFromName(s)));
    }
    AddPairs(member_tags, request.mutable_tags());
    request.set_name(name_re);
    pb::AgentMembersResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->Members(&context, request, &response);
    if (!s.ok()) return Fail(c, "members", s);
    std::cout << (c.json ? Dump(peerlab::agent::MembersJson(response))
                         : peerlab::agent::MembersTable(response));
    return 0;
  }

  if (monitor->parsed() || query->parsed() || reach->parsed()) {
    bool interrupted = false;
    CancelOnSignal(&context, signals, &interrupted);
    if (monitor->parsed()) {
      pb::AgentStreamRequest request;
      request.add_filters("log");
      for (const std::string& f : filters) request.add_filters(f);
      request.set_log_level(level == "warning" ? "warn" : level);
      auto reader = stub->Stream(&context, request);
      pb::AgentStreamResponse event;
      while (reader->Read(&event)) {
        std::cout << (c.json ? Dump(peerlab::agent::StreamJson(event))
                             : peerlab::agent::StreamLine(event) + "\n");
        std::cout.flush();
      }
      grpc::Status s = reader->Finish();
      if (interrupted || s.ok()) return 0;
      return Fail(c, "monitor", s);
    }
    pb::AgentQueryRequest request;
    double wait = c.timeout;
    if (query->parsed()) {
      request.set_name(query_name);
      request.set_payload(query_payload);
      for (const std::string& n : query_nodes) request.add_nodes(n);
      AddPairs(query_tags, request.mutable_tags());
      request.set_request_ack(ack);
      request.set_relay_factor(relay);
      if (query_timeout > 0)
        SetDuration(query_timeout, request.mutable_timeout());
      // The peer's default query timeout is at most a few seconds in the
      // lab profiles; without --query-timeout, --timeout bounds the call.
      wait += query_timeout;
    } else {
      // reachability: a query every member acks (as serf's _serf_ping).
      request.set_name("_peerlab_ping");
      request.set_request_ack(true);
    }
    context.set_deadline(peerlab::DeadlineIn(wait));
    auto reader = stub->Query(&context, request);
    pb::AgentQueryResponse item;
    pb::AgentQuerySummary summary;
    bool have_summary = false;
    while (reader->Read(&item)) {
      if (item.has_summary()) {
        summary = item.summary();
        have_summary = true;
      }
      if (query->parsed()) {
        std::cout << (c.json ? Dump(peerlab::agent::QueryJson(item))
                             : peerlab::agent::QueryLine(item) + "\n");
        std::cout.flush();
      }
    }
    grpc::Status s = reader->Finish();
    if (interrupted) return 1;
    if (!s.ok()) return Fail(c, query->parsed() ? "query" : "reachability", s);
    if (reach->parsed()) {
      if (c.json) {
        pb::AgentQueryResponse last;
        *last.mutable_summary() = summary;
        std::cout << Dump(peerlab::agent::QueryJson(last));
      } else {
        std::cout << absl::StrCat("Members asked: ", summary.matched(),
                                  ", acked: ", summary.acked(), "\n");
        for (const std::string& m : summary.missing()) {
          std::cout << "Not answering: " << peerlab::agent::Printable(m)
                    << "\n";
        }
        std::cout << (summary.missing().empty()
                          ? "Every member answered.\n"
                          : "Some members did not answer in time.\n");
      }
      return have_summary && summary.missing().empty() ? 0 : 1;
    }
    return 0;
  }

  if (event->parsed()) {
    pb::AgentEventRequest request;
    request.set_name(event_name);
    request.set_payload(event_payload);
    request.set_coalesce(coalesce);
    pb::AgentEventResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->Event(&context, request, &response);
    if (!s.ok()) return Fail(c, "event", s);
    if (c.json) {
      std::cout << Dump({{"name", event_name}, {"ltime", response.ltime()}});
    } else {
      std::cout << "Event '" << peerlab::agent::Printable(event_name)
                << "' dispatched (ltime " << response.ltime() << ", coalescing "
                << (coalesce ? "on" : "off") << ")\n";
    }
    return 0;
  }

  if (tags->parsed()) {
    pb::AgentTagsRequest request;
    AddPairs(set_tags, request.mutable_set());
    for (const std::string& k : remove_tags) request.add_remove(k);
    pb::AgentTagsResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->Tags(&context, request, &response);
    if (!s.ok()) return Fail(c, "tags", s);
    std::cout << (c.json ? Dump(peerlab::agent::TagsJson(response))
                         : peerlab::agent::TagsText(response));
    return 0;
  }

  if (info->parsed()) {
    pb::AgentStatsResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->Stats(&context, pb::AgentStatsRequest(), &response);
    if (!s.ok()) return Fail(c, "info", s);
    std::cout << (c.json ? Dump(peerlab::agent::InfoJson(response))
                         : peerlab::agent::InfoText(response));
    return 0;
  }

  if (force_leave->parsed()) {
    pb::AgentForceLeaveRequest request;
    request.set_name(leave_name);
    request.set_prune(prune);
    pb::AgentForceLeaveResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->ForceLeave(&context, request, &response);
    if (!s.ok()) return Fail(c, "force-leave", s);
    if (c.json) {
      std::cout << Dump({{"name", leave_name}, {"prune", prune}});
    }
    return 0;
  }

  if (rtt->parsed()) {
    pb::AgentCoordinateRequest request;
    for (const std::string& n : rtt_nodes) request.add_nodes(n);
    pb::AgentCoordinateResponse response;
    context.set_deadline(peerlab::DeadlineIn(c.timeout));
    grpc::Status s = stub->Coordinate(&context, request, &response);
    if (!s.ok()) return Fail(c, "rtt", s);
    std::cout << (c.json ? Dump(peerlab::agent::RttJson(response))
                         : peerlab::agent::RttText(response));
    return 0;
  }

  if (keys->parsed()) {
    pb::AgentKeysRequest request;
    if (keys_list) {
      request.set_op(pb::AgentKeysRequest::LIST);
    } else if (!install_key.empty()) {
      request.set_op(pb::AgentKeysRequest::INSTALL);
      request.set_key(install_key);
    } else if (!use_key.empty()) {
      request.set_op(pb::AgentKeysRequest::USE);
      request.set_key(use_key);
    } else {
      request.set_op(pb::AgentKeysRequest::REMOVE);
      request.set_key(remove_key);
    }
    SetDuration(keys_timeout, request.mutable_timeout());
    pb::AgentKeysResponse response;
    context.set_deadline(peerlab::DeadlineIn(keys_timeout + 10));
    grpc::Status s = stub->Keys(&context, request, &response);
    if (!s.ok()) return Fail(c, "keys", s);
    std::cout << (c.json ? Dump(peerlab::agent::KeysJson(response))
                         : peerlab::agent::KeysText(request.op(), response));
    if (!peerlab::agent::KeysSucceeded(response)) {
      std::cerr << kProgram << ": keys: "
                << response.members() -
                       std::min(response.members(), response.acks())
                << " member(s) did not answer, " << response.errors_size()
                << " refused\n";
      return 1;
    }
    return 0;
  }
  return peerlab::kUsageExitCode;
}
