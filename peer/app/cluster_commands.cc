#include "peer/app/cluster_commands.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peerlab::peer {
namespace {

constexpr char kTagsUsage[] = "tags [set KEY=VALUE... | del KEY...]";

absl::Status Tags(MembershipHost* host, const cli::Call& call,
                  cli::Output& out) {
  if (call.args.empty()) {
    const cluster::Tags tags = host->LocalTags();
    for (const auto& [k, v] : tags) {
      out.Print(absl::StrCat(k, "=", absl::CHexEscape(v)));
    }
    out.Print(absl::StrCat(tags.size(), " tag(s)"));
    return absl::OkStatus();
  }
  const std::string& verb = call.args[0];
  if ((verb != "set" && verb != "del") || call.args.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("usage: ", kTagsUsage));
  }
  cluster::Tags set;
  std::vector<std::string> del;
  for (size_t i = 1; i < call.args.size(); ++i) {
    if (verb == "set") {
      auto kv = cluster::ParseTagAssignment(call.args[i]);
      if (!kv.ok()) return kv.status();
      set[kv->first] = kv->second;
    } else {
      if (auto s = cluster::ValidateTagKey(call.args[i]); !s.ok()) return s;
      del.push_back(call.args[i]);
    }
  }
  if (auto s = host->UpdateTags(set, del, kTagsTimeout); !s.ok()) return s;
  std::vector<std::string> words;
  if (verb == "set") {
    for (const auto& [k, v] : set) {
      words.push_back(absl::StrCat(k, "=", absl::CHexEscape(v)));
    }
  } else {
    words = del;
  }
  out.Print(absl::StrCat(verb == "set" ? "tags set: " : "tags removed: ",
                         absl::StrJoin(words, " ")));
  return absl::OkStatus();
}

absl::Status Event(MembershipHost* host, const cli::Call& call,
                   cli::Output& out) {
  std::vector<std::string> words;
  bool coalesce = false;
  for (const auto& a : call.args) {
    if (a == "--coalesce") {
      coalesce = true;
    } else {
      words.push_back(a);
    }
  }
  if (words.empty()) {
    return absl::InvalidArgumentError(
        "usage: event NAME [PAYLOAD] [--coalesce]");
  }
  const std::string name = words[0];
  const std::string payload =
      absl::StrJoin(words.begin() + 1, words.end(), " ");
  auto ltime = host->SendUserEvent(name, payload, coalesce);
  if (!ltime.ok()) return ltime.status();
  out.Print(absl::StrCat("event ", name, " sent (ltime ", *ltime,
                         coalesce ? ", coalesced" : "", ")"));
  return absl::OkStatus();
}

}  // namespace

std::string UserEventText(const cluster::UserEvent& e) {
  return absl::StrCat("<event> ", absl::CHexEscape(e.name),
                      e.payload.empty() ? "" : " ", absl::CHexEscape(e.payload),
                      " (from ", e.from, ", ltime ", e.ltime, ")");
}

void UserEventViewWriter::OnUserEvent(const cluster::UserEvent& e) {
  if (hub_ != nullptr) hub_->Write(cli::kEventsView, UserEventText(e));
}

absl::Status RegisterClusterCommands(MembershipHost* host,
                                     cli::Registry& registry) {
  std::vector<cli::Command> commands = {
      {.name = "tags",
       .group = "cluster",
       .usage = kTagsUsage,
       .summary = "this node's tags (key/value pairs in its metadata), or "
                  "sets or removes some: an update event on every member",
       .help = "Keys: 1..64 of letters, digits, '_', '.', '-'; values: "
               "1..4096 bytes. The whole metadata is at most "
               "memberlist.max_meta_bytes (a change past it is refused).",
       .handler = [host](const cli::Call& call,
                         cli::Output& out) { return Tags(host, call, out); }},
      {.name = "event",
       .group = "cluster",
       .usage = "event NAME [PAYLOAD] [--coalesce]",
       .summary = "sends a user event to every member (once each, in "
                  "Lamport order; shown on eventsView)",
       .help = "PAYLOAD is the rest of the line. --coalesce: of the events "
               "of NAME within event.coalesce_period only the newest is "
               "delivered. At most event.max_bytes (name and payload): a "
               "larger one is refused, never truncated.",
       .min_args = 1,
       .handler = [host](const cli::Call& call,
                         cli::Output& out) { return Event(host, call, out); }},
  };
  for (auto& command : commands) {
    if (auto s = registry.Register(std::move(command)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::peer
