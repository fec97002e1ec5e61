#include "peer/agent/ctl_format.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace peerlab::agent {

namespace pb = ::peer::v1;
using json = nlohmann::json;

namespace {

std::string JoinTags(const google::protobuf::Map<std::string, std::string>& t) {
  std::map<std::string, std::string> sorted(t.begin(), t.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) {
    parts.push_back(absl::StrCat(Printable(k), "=", Printable(v)));
  }
  return absl::StrJoin(parts, ",");
}

json TagsObject(const google::protobuf::Map<std::string, std::string>& t) {
  json out = json::object();
  for (const auto& [k, v] : t) out[k] = v;
  return out;
}

std::string EventKind(pb::MemberEvent::Kind kind) {
  switch (kind) {
    case pb::MemberEvent::JOINED:
      return "member-join";
    case pb::MemberEvent::LEFT:
      return "member-leave";
    case pb::MemberEvent::FAILED:
      return "member-failed";
    case pb::MemberEvent::SUSPECT:
      return "member-suspect";
    case pb::MemberEvent::ALIVE:
      return "member-alive";
    case pb::MemberEvent::UPDATED:
      return "member-update";
    default:
      return "member-unknown";
  }
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const absl::Time time =
      absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", time, absl::LocalTimeZone());
}

}  // namespace

std::string StatusName(int status) {
  switch (status) {
    case pb::AgentMember::ALIVE:
      return "alive";
    case pb::AgentMember::SUSPECT:
      return "suspect";
    case pb::AgentMember::FAILED:
      return "failed";
    case pb::AgentMember::LEFT:
      return "left";
    default:
      return "unknown";
  }
}

int StatusFromName(const std::string& name) {
  const std::string n = absl::AsciiStrToLower(name);
  for (int s : {pb::AgentMember::ALIVE, pb::AgentMember::SUSPECT,
                pb::AgentMember::FAILED, pb::AgentMember::LEFT}) {
    if (StatusName(s) == n) return s;
  }
  return 0;
}

std::string Printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

json MemberJson(const pb::AgentMember& m) {
  return {{"name", m.name()},
          {"address", m.address()},
          {"status", StatusName(m.status())},
          {"tags", TagsObject(m.tags())},
          {"incarnation", m.incarnation()},
          {"generation", m.generation()}};
}

std::string MembersTable(const pb::AgentMembersResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ADDRESS", "STATUS", "TAGS"}};
  for (const auto& m : response.members()) {
    rows.push_back({Printable(m.name()), Printable(m.address()),
                    StatusName(m.status()), JoinTags(m.tags())});
  }
  return FormatTable(rows);
}

json MembersJson(const pb::AgentMembersResponse& response) {
  json members = json::array();
  for (const auto& m : response.members()) members.push_back(MemberJson(m));
  return {{"members", members}};
}

std::string InfoText(const pb::AgentStatsResponse& response) {
  const pb::AgentMember& self = response.self();
  std::string out = "agent:\n";
  std::vector<std::vector<std::string>> rows = {
      {"  name", "=", Printable(self.name())},
      {"  address", "=", Printable(self.address())},
      {"  status", "=", StatusName(self.status())},
      {"  incarnation", "=", absl::StrCat(self.incarnation())},
      {"  generation", "=", absl::StrCat(self.generation())}};
  out += FormatTable(rows);
  out += "tags:\n";
  std::map<std::string, std::string> tags(self.tags().begin(),
                                          self.tags().end());
  rows.clear();
  for (const auto& [k, v] : tags) {
    rows.push_back({absl::StrCat("  ", Printable(k)), "=", Printable(v)});
  }
  out += FormatTable(rows);
  // Statistics by area: the name up to its first dot.
  std::map<std::string, std::vector<std::vector<std::string>>> areas;
  for (const auto& s : response.stats()) {
    const std::string key = StatKey(s);
    const size_t dot = key.find('.');
    const std::string area =
        dot == std::string::npos ? key : key.substr(0, dot);
    const std::string rest =
        dot == std::string::npos ? key : key.substr(dot + 1);
    areas[area].push_back(
        {absl::StrCat("  ", Printable(rest)), "=", absl::StrCat(s.value())});
  }
  for (const auto& [area, area_rows] : areas) {
    out += Printable(area) + ":\n" + FormatTable(area_rows);
  }
  return out;
}

std::string StatKey(const pb::AgentStat& s) {
  if (s.labels().empty()) return s.name();
  std::map<std::string, std::string> labels(s.labels().begin(),
                                            s.labels().end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) {
    parts.push_back(absl::StrCat(k, "=\"", v, "\""));
  }
  return absl::StrCat(s.name(), "{", absl::StrJoin(parts, ","), "}");
}

json InfoJson(const pb::AgentStatsResponse& response) {
  json stats = json::object();
  for (const auto& s : response.stats()) stats[StatKey(s)] = s.value();
  return {{"self", MemberJson(response.self())}, {"stats", stats}};
}

std::string TagsText(const pb::AgentTagsResponse& response) {
  std::map<std::string, std::string> tags(response.tags().begin(),
                                          response.tags().end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : tags) {
    rows.push_back({Printable(k), "=", Printable(v)});
  }
  return FormatTable(rows);
}

json TagsJson(const pb::AgentTagsResponse& response) {
  return {{"tags", TagsObject(response.tags())}};
}

std::string StreamLine(const pb::AgentStreamResponse& e) {
  const std::string time = TimeText(e.time());
  switch (e.event_case()) {
    case pb::AgentStreamResponse::kMember: {
      const auto& m = e.member().member();
      return absl::StrCat(time, " ", EventKind(e.member().kind()), ": ",
                          Printable(m.name()), " ", Printable(m.address()), " ",
                          StatusName(m.status()), m.tags().empty() ? "" : " ",
                          JoinTags(m.tags()));
    }
    case pb::AgentStreamResponse::kUser:
      return absl::StrCat(time, " user: ", Printable(e.user().name()), " ",
                          Printable(e.user().payload()), " (from ",
                          Printable(e.user().from()), ", ltime ",
                          e.user().ltime(), ")");
    case pb::AgentStreamResponse::kQuery:
      return absl::StrCat(time, " query: ", Printable(e.query().name()), " ",
                          Printable(e.query().payload()), " (from ",
                          Printable(e.query().from()), ", ltime ",
                          e.query().ltime(), ")");
    case pb::AgentStreamResponse::kLog:
      return absl::StrCat(time, " [", absl::AsciiStrToUpper(e.log().level()),
                          "] ", Printable(e.log().component()), ": ",
                          Printable(e.log().text()));
    case pb::AgentStreamResponse::EVENT_NOT_SET:
      break;
  }
  return absl::StrCat(time, " (unknown event)");
}

json StreamJson(const pb::AgentStreamResponse& e) {
  json out;
  if (e.has_time()) {
    out["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                   absl::FromUnixSeconds(e.time().seconds()) +
                                       absl::Nanoseconds(e.time().nanos()),
                                   absl::UTCTimeZone());
  }
  switch (e.event_case()) {
    case pb::AgentStreamResponse::kMember:
      out["event"] = EventKind(e.member().kind());
      out["member"] = MemberJson(e.member().member());
      break;
    case pb::AgentStreamResponse::kUser:
      out["event"] = "user";
      out["name"] = e.user().name();
      out["payload"] = e.user().payload();
      out["ltime"] = e.user().ltime();
      out["from"] = e.user().from();
      out["coalesce"] = e.user().coalesce();
      break;
    case pb::AgentStreamResponse::kQuery:
      out["event"] = "query";
      out["id"] = e.query().id();
      out["name"] = e.query().name();
      out["payload"] = e.query().payload();
      out["ltime"] = e.query().ltime();
      out["from"] = e.query().from();
      break;
    case pb::AgentStreamResponse::kLog:
      out["event"] = "log";
      out["level"] = e.log().level();
      out["component"] = e.log().component();
      out["text"] = e.log().text();
      break;
    case pb::AgentStreamResponse::EVENT_NOT_SET:
      out["event"] = "unknown";
      break;
  }
  return out;
}

std::string QueryLine(const pb::AgentQueryResponse& item) {
  switch (item.item_case()) {
    case pb::AgentQueryResponse::kAck:
      return absl::StrCat("Ack from '", Printable(item.ack().from()), "'");
    case pb::AgentQueryResponse::kReply:
      return absl::StrCat("Response from '", Printable(item.reply().from()),
                          "': ", Printable(item.reply().payload()));
    case pb::AgentQueryResponse::kSummary: {
      const auto& s = item.summary();
      std::vector<std::string> missing;
      for (const auto& m : s.missing()) missing.push_back(Printable(m));
      return absl::StrCat("Total: matched ", s.matched(), ", acked ", s.acked(),
                          ", answered ", s.answered(), ", missing ",
                          s.missing_size(), missing.empty() ? "" : ": ",
                          absl::StrJoin(missing, ", "));
    }
    case pb::AgentQueryResponse::ITEM_NOT_SET:
      break;
  }
  return "(unknown answer)";
}

json QueryJson(const pb::AgentQueryResponse& item) {
  switch (item.item_case()) {
    case pb::AgentQueryResponse::kAck:
      return {{"ack", item.ack().from()}};
    case pb::AgentQueryResponse::kReply:
      return {{"from", item.reply().from()},
              {"payload", item.reply().payload()}};
    case pb::AgentQueryResponse::kSummary: {
      const auto& s = item.summary();
      json missing = json::array();
      for (const auto& m : s.missing()) missing.push_back(m);
      return {{"summary",
               {{"matched", s.matched()},
                {"acked", s.acked()},
                {"answered", s.answered()},
                {"missing", missing}}}};
    }
    case pb::AgentQueryResponse::ITEM_NOT_SET:
      break;
  }
  return json::object();
}

std::string KeysText(pb::AgentKeysRequest::Op op,
                     const pb::AgentKeysResponse& r) {
  std::string out;
  if (op == pb::AgentKeysRequest::LIST) {
    std::vector<std::vector<std::string>> rows = {
        {"KEY", "HELD BY", "PRIMARY ON"}};
    std::map<std::string, uint32_t> keys(r.keys().begin(), r.keys().end());
    for (const auto& [key, n] : keys) {
      auto p = r.primary_keys().find(key);
      rows.push_back(
          {Printable(key), absl::StrCat(n, "/", r.acks()),
           absl::StrCat(p == r.primary_keys().end() ? 0 : p->second)});
    }
    out += FormatTable(rows);
  }
  std::map<std::string, std::string> errors(r.errors().begin(),
                                            r.errors().end());
  for (const auto& [node, error] : errors) {
    out += absl::StrCat(Printable(node), " refused: ", Printable(error), "\n");
  }
  out += absl::StrCat(r.acks(), " of ", r.members(), " member(s) answered, ",
                      r.errors_size(), " refused\n");
  return out;
}

json KeysJson(const pb::AgentKeysResponse& r) {
  json errors = json::object();
  for (const auto& [k, v] : r.errors()) errors[k] = v;
  json keys = json::object();
  for (const auto& [k, v] : r.keys()) keys[k] = v;
  json primary = json::object();
  for (const auto& [k, v] : r.primary_keys()) primary[k] = v;
  return {{"members", r.members()},
          {"acks", r.acks()},
          {"errors", errors},
          {"keys", keys},
          {"primary_keys", primary}};
}

bool KeysSucceeded(const pb::AgentKeysResponse& r) {
  return r.acks() >= r.members() && r.errors_size() == 0;
}

namespace {
double RttMs(const pb::AgentCoordinateResponse& r) {
  return (static_cast<double>(r.rtt().seconds()) * 1e9 + r.rtt().nanos()) / 1e6;
}
std::string NodeOf(const pb::AgentCoordinateResponse& r, int i) {
  // `rtt A` asks for A alone: the other side is the peer asked.
  return r.coordinates_size() > i ? r.coordinates(i).node() : "this peer";
}
}  // namespace

std::string RttText(const pb::AgentCoordinateResponse& r) {
  return absl::StrFormat("Estimated %s <-> %s rtt: %.3f ms\n",
                         Printable(NodeOf(r, 0)), Printable(NodeOf(r, 1)),
                         RttMs(r));
}

json RttJson(const pb::AgentCoordinateResponse& r) {
  return {{"a", NodeOf(r, 0)}, {"b", NodeOf(r, 1)}, {"rtt_ms", RttMs(r)}};
}

}  // namespace peerlab::agent
