#include "peer/agent/agent_service.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace peerlab::agent {

namespace {

constexpr size_t kMaxNameBytes = 128;  // event and query names
constexpr size_t kMaxTagKeyBytes = 64;
// As cluster/tags.h (the backend checks again, with the metadata's limit).
constexpr size_t kMaxTagValueBytes = 4096;
constexpr size_t kMaxPatternBytes = 1024;  // a RE2 expression
constexpr size_t kMaxTagChanges = 256;     // set + remove in one call
constexpr uint32_t kMaxRelayFactor = 5;    // as Serf
constexpr int kMaxQueryNodes = 1024;
// A RE2 program larger than this is refused (memory of a hostile pattern).
constexpr int64_t kMaxPatternMemory = 1 << 20;

bool Printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::Status CheckName(const std::string& field, const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", name.size(), " bytes (at most ", kMaxNameBytes, ")"));
  }
  if (!Printable(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": holds a control character"));
  }
  return absl::OkStatus();
}

absl::Status CheckTagKey(const std::string& field, const std::string& key) {
  if (key.empty() || key.size() > kMaxTagKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": tag key \"", key.substr(0, kMaxTagKeyBytes),
                     "\" must be 1 to ", kMaxTagKeyBytes, " bytes"));
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": tag key \"", key,
                       "\" may hold only letters, digits, '_', '-', '.'"));
    }
  }
  return absl::OkStatus();
}

// An anchored RE2 for `pattern`, or InvalidArgument naming `field`.
absl::StatusOr<std::unique_ptr<RE2>> Compile(const std::string& field,
                                             const std::string& pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": the expression is ", pattern.size(),
                     " bytes (at most ", kMaxPatternBytes, ")"));
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": bad regular expression \"", pattern, "\": ", re->error()));
  }
  return re;
}

// Compiled tag filters: key -> expression.
using TagPatterns = std::vector<std::pair<std::string, std::unique_ptr<RE2>>>;

absl::StatusOr<TagPatterns> CompileTags(
    const std::string& field,
    const google::protobuf::Map<std::string, std::string>& tags) {
  TagPatterns out;
  for (const auto& [key, pattern] : tags) {
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": empty tag key"));
    }
    auto re = Compile(absl::StrCat(field, "[", key, "]"), pattern);
    if (!re.ok()) return re.status();
    out.emplace_back(key, *std::move(re));
  }
  return out;
}

bool TagsMatch(const TagPatterns& patterns, const pb::AgentMember& member) {
  for (const auto& [key, re] : patterns) {
    auto it = member.tags().find(key);
    if (it == member.tags().end()) return false;
    if (!RE2::FullMatch(it->second, *re)) return false;
  }
  return true;
}

size_t StreamSize(const pb::AgentStreamResponse& event) {
  return event.ByteSizeLong();
}
size_t QuerySize(const pb::AgentQueryResponse& item) {
  return item.ByteSizeLong();
}

}  // namespace

const std::vector<std::string>& LogLevelNames() {
  static const auto* names = new std::vector<std::string>{
      "trace", "debug", "info", "warn", "error", "critical"};
  return *names;
}

int LogLevelIndex(const std::string& name) {
  const std::string n = name == "warning" ? "warn" : name;
  const auto& names = LogLevelNames();
  auto it = std::find(names.begin(), names.end(), n);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

absl::StatusOr<std::vector<pb::AgentMember>> FilterMembers(
    const pb::AgentMembersRequest& request,
    std::vector<pb::AgentMember> members) {
  std::set<int> statuses;
  for (int s : request.statuses()) {
    if (!pb::AgentMember::Status_IsValid(s) ||
        s == pb::AgentMember::STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("statuses: ", s, " is no member status"));
    }
    statuses.insert(s);
  }
  auto tags = CompileTags("tags", request.tags());
  if (!tags.ok()) return tags.status();
  std::unique_ptr<RE2> name;
  if (!request.name().empty()) {
    auto re = Compile("name", request.name());
    if (!re.ok()) return re.status();
    name = *std::move(re);
  }
  std::vector<pb::AgentMember> out;
  for (pb::AgentMember& m : members) {
    if (!statuses.empty() && !statuses.count(m.status())) continue;
    if (!TagsMatch(*tags, m)) continue;
    if (name && !RE2::FullMatch(m.name(), *name)) continue;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const pb::AgentMember& a, const pb::AgentMember& b) {
              return a.name() < b.name();
            });
  return out;
}

// The defaults of the features a backend may lack.

absl::StatusOr<uint64_t> AgentBackend::SendEvent(const std::string&,
                                                 const std::string&, bool) {
  return absl::UnimplementedError("user events are not in this peer yet");
}

absl::StatusOr<uint64_t> AgentBackend::StartQuery(
    const pb::AgentQueryRequest&, std::function<void(pb::AgentQueryResponse)>) {
  return absl::UnimplementedError("queries are not in this peer yet");
}

void AgentBackend::CancelQuery(uint64_t) {}

absl::Status AgentBackend::ForceLeave(const std::string&, bool) {
  return absl::UnimplementedError("force-leave is not in this peer yet");
}

absl::StatusOr<pb::AgentCoordinateResponse> AgentBackend::Coordinates(
    const std::vector<std::string>&) {
  return absl::UnimplementedError(
      "network coordinates are not in this peer yet");
}

bool AgentService::Filter::Takes(const pb::AgentStreamResponse& event) const {
  switch (event.event_case()) {
    case pb::AgentStreamResponse::kMember:
      return member_kinds.count(event.member().kind()) > 0;
    case pb::AgentStreamResponse::kUser:
      return all_user || user_names.count(event.user().name()) > 0;
    case pb::AgentStreamResponse::kQuery:
      return all_queries || query_names.count(event.query().name()) > 0;
    case pb::AgentStreamResponse::kLog:
      return logs && LogLevelIndex(event.log().level()) >= log_level;
    case pb::AgentStreamResponse::EVENT_NOT_SET:
      return false;
  }
  return false;
}

absl::StatusOr<AgentService::Filter> AgentService::ParseFilter(
    const pb::AgentStreamRequest& request) {
  using Kind = pb::MemberEvent;
  static const std::map<std::string, int>* kMemberFilters =
      new std::map<std::string, int>{
          {"member-join", Kind::JOINED},     {"member-leave", Kind::LEFT},
          {"member-failed", Kind::FAILED},   {"member-update", Kind::UPDATED},
          {"member-suspect", Kind::SUSPECT}, {"member-alive", Kind::ALIVE}};
  Filter f;
  std::vector<std::string> filters(request.filters().begin(),
                                   request.filters().end());
  if (filters.empty()) filters = {"member", "user", "query"};
  for (const std::string& name : filters) {
    if (auto it = kMemberFilters->find(name); it != kMemberFilters->end()) {
      f.member_kinds.insert(it->second);
    } else if (name == "member") {
      for (const auto& [n, kind] : *kMemberFilters) f.member_kinds.insert(kind);
    } else if (name == "user") {
      f.all_user = true;
    } else if (name == "query") {
      f.all_queries = true;
    } else if (name == "log") {
      f.logs = true;
    } else if (absl::StartsWith(name, "user:") && name.size() > 5) {
      f.user_names.insert(name.substr(5));
    } else if (absl::StartsWith(name, "query:") && name.size() > 6) {
      f.query_names.insert(name.substr(6));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "filters: unknown filter \"", name.substr(0, kMaxNameBytes),
          "\" (member-join, member-leave, member-failed, member-update, "
          "member-suspect, member-alive, member, user, user:NAME, query, "
          "query:NAME, log)"));
    }
  }
  if (!request.log_level().empty()) {
    f.log_level = LogLevelIndex(request.log_level());
    if (f.log_level < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "log_level: unknown level \"", request.log_level().substr(0, 32),
          "\" (", absl::StrJoin(LogLevelNames(), ", "), ")"));
    }
  }
  return f;
}

AgentService::AgentService(AgentBackend* backend, Options options)
    : backend_(backend), options_(std::move(options)) {}

AgentService::~AgentService() { Shutdown(); }

absl::StatusOr<pb::AgentMembersResponse> AgentService::Members(
    const pb::AgentMembersRequest& request) {
  auto members = backend_->Members();
  if (!members.ok()) return members.status();
  auto kept = FilterMembers(request, *std::move(members));
  if (!kept.ok()) return kept.status();
  pb::AgentMembersResponse response;
  for (pb::AgentMember& m : *kept) *response.add_members() = std::move(m);
  return response;
}

absl::StatusOr<std::shared_ptr<StreamQueue>> AgentService::Subscribe(
    const pb::AgentStreamRequest& request) {
  auto filter = ParseFilter(request);
  if (!filter.ok()) return filter.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) {
    return absl::UnavailableError("the peer is shutting down");
  }
  if (subscribers_.size() >= static_cast<size_t>(options_.max_streams)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("already ", subscribers_.size(),
                     " Stream calls open (the limit); try again later"));
  }
  auto queue = std::make_shared<StreamQueue>(
      options_.stream_queue_items, options_.stream_queue_bytes, StreamSize);
  subscribers_.emplace(queue, *std::move(filter));
  return queue;
}

void AgentService::Unsubscribe(const std::shared_ptr<StreamQueue>& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.erase(queue);
}

void AgentService::Publish(const pb::AgentStreamResponse& event) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    if (it->second.Takes(event) &&
        !it->first->Push(event, "this Stream call fell behind")) {
      it = subscribers_.erase(it);  // ended: overflowed or closed
    } else {
      ++it;
    }
  }
}

size_t AgentService::subscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

absl::StatusOr<pb::AgentEventResponse> AgentService::Event(
    const pb::AgentEventRequest& request) {
  if (auto s = CheckName("name", request.name()); !s.ok()) return s;
  auto ltime = backend_->SendEvent(request.name(), request.payload(),
                                   request.coalesce());
  if (!ltime.ok()) return ltime.status();
  pb::AgentEventResponse response;
  response.set_ltime(*ltime);
  return response;
}

// What a running query hands its answers to (copied into the backend's
// callbacks): it pushes them on the call's queue, and frees the query's
// place at the summary, or, when the backend drops the callbacks uncalled
// (the node went away), ends the queue with Unavailable.
class AgentService::QueryFeed {
 public:
  QueryFeed(std::shared_ptr<QueryQueue> queue, std::shared_ptr<Running> running,
            uint64_t id)
      : queue_(std::move(queue)), running_(std::move(running)), id_(id) {}
  ~QueryFeed() {
    Release(absl::UnavailableError(
        "the query ended without its summary (the membership node went "
        "away)"));
  }

  void Take(pb::AgentQueryResponse item) {
    const bool last = item.has_summary();
    queue_->Push(std::move(item), "this Query call fell behind");
    if (last) Release(absl::OkStatus());
  }

  // Ends the queue with `status` (after what it holds) and frees the
  // query's place, once.
  void Release(absl::Status status) {
    if (released_.exchange(true)) return;
    queue_->Close(std::move(status));
    std::lock_guard<std::mutex> lock(running_->mu);
    --running_->queries;
    running_->byid.erase(id_);
  }

 private:
  const std::shared_ptr<QueryQueue> queue_;
  const std::shared_ptr<Running> running_;
  const uint64_t id_;
  std::atomic<bool> released_{false};
};

absl::StatusOr<AgentService::QueryCall> AgentService::Query(
    const pb::AgentQueryRequest& request) {
  if (auto s = CheckName("name", request.name()); !s.ok()) return s;
  if (request.nodes_size() > kMaxQueryNodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("nodes: ", request.nodes_size(), " names (at most ",
                     kMaxQueryNodes, ")"));
  }
  for (const std::string& node : request.nodes()) {
    if (auto s = CheckName("nodes", node); !s.ok()) return s;
  }
  if (auto tags = CompileTags("tags", request.tags()); !tags.ok()) {
    return tags.status();
  }
  const absl::Duration timeout = absl::Seconds(request.timeout().seconds()) +
                                 absl::Nanoseconds(request.timeout().nanos());
  if (timeout < absl::ZeroDuration() || timeout > options_.max_query_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: ", absl::FormatDuration(timeout),
                     " is outside 0 (the default) to ",
                     absl::FormatDuration(options_.max_query_timeout)));
  }
  if (request.relay_factor() > kMaxRelayFactor) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay_factor: ", request.relay_factor(), " (at most ",
                     kMaxRelayFactor, ")"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return absl::UnavailableError("the peer is shutting down");
  }
  uint64_t id = 0;
  auto queue = std::make_shared<QueryQueue>(
      options_.query_queue_items, options_.query_queue_bytes, QuerySize);
  {
    std::lock_guard<std::mutex> lock(running_->mu);
    if (running_->queries >= options_.max_queries) {
      return absl::ResourceExhaustedError(
          absl::StrCat("already ", running_->queries,
                       " queries running (the limit); try again later"));
    }
    ++running_->queries;
    id = ++running_->next_id;
    running_->byid[id].queue = queue;
  }
  auto feed = std::make_shared<QueryFeed>(queue, running_, id);
  absl::StatusOr<uint64_t> handle = backend_->StartQuery(
      request, [feed](pb::AgentQueryResponse item) { feed->Take(item); });
  if (!handle.ok()) {
    feed->Release(absl::OkStatus());
    return handle.status();
  }
  {
    std::lock_guard<std::mutex> lock(running_->mu);
    auto it = running_->byid.find(id);
    // Absent when the query is over already (its summary came first).
    if (it != running_->byid.end()) it->second.handle = *handle;
  }
  return QueryCall{.queue = std::move(queue), .id = id};
}

absl::StatusOr<pb::AgentTagsResponse> AgentService::Tags(
    const pb::AgentTagsRequest& request) {
  if (static_cast<size_t>(request.set_size() + request.remove_size()) >
      kMaxTagChanges) {
    return absl::InvalidArgumentError(absl::StrCat(
        "set and remove: ", request.set_size(), " + ", request.remove_size(),
        " tags (at most ", kMaxTagChanges, " in one call)"));
  }
  std::map<std::string, std::string> set;
  for (const auto& [key, value] : request.set()) {
    if (auto s = CheckTagKey("set", key); !s.ok()) return s;
    if (value.size() > kMaxTagValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("set[", key, "]: ", value.size(), " bytes (at most ",
                       kMaxTagValueBytes, ")"));
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("set[", key, "]: empty value (remove deletes a tag)"));
    }
    set.emplace(key, value);
  }
  std::vector<std::string> remove;
  for (const std::string& key : request.remove()) {
    if (auto s = CheckTagKey("remove", key); !s.ok()) return s;
    if (set.count(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("remove: \"", key, "\" is also in set"));
    }
    remove.push_back(key);
  }
  pb::AgentTagsResponse response;
  if (set.empty() && remove.empty()) {
    auto self = backend_->Self();
    if (!self.ok()) return self.status();
    *response.mutable_tags() = self->tags();
    return response;
  }
  auto tags = backend_->UpdateTags(set, remove);
  if (!tags.ok()) return tags.status();
  response.mutable_tags()->insert(tags->begin(), tags->end());
  return response;
}

absl::StatusOr<pb::AgentForceLeaveResponse> AgentService::ForceLeave(
    const pb::AgentForceLeaveRequest& request) {
  if (auto s = CheckName("name", request.name()); !s.ok()) return s;
  if (auto s = backend_->ForceLeave(request.name(), request.prune()); !s.ok()) {
    return s;
  }
  return pb::AgentForceLeaveResponse();
}

absl::StatusOr<pb::AgentStatsResponse> AgentService::Stats(
    const pb::AgentStatsRequest&) {
  auto self = backend_->Self();
  if (!self.ok()) return self.status();
  auto stats = backend_->Stats();
  if (!stats.ok()) return stats.status();
  auto key = [](const pb::AgentStat& s) {
    std::map<std::string, std::string> labels(s.labels().begin(),
                                              s.labels().end());
    return std::make_pair(s.name(), labels);
  };
  std::sort(stats->begin(), stats->end(),
            [&key](const pb::AgentStat& a, const pb::AgentStat& b) {
              return key(a) < key(b);
            });
  pb::AgentStatsResponse response;
  *response.mutable_self() = *std::move(self);
  for (pb::AgentStat& s : *stats) *response.add_stats() = std::move(s);
  return response;
}

absl::StatusOr<pb::AgentCoordinateResponse> AgentService::Coordinate(
    const pb::AgentCoordinateRequest& request) {
  if (request.nodes_size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nodes: ", request.nodes_size(), " names (at most 2: rtt A [B])"));
  }
  std::vector<std::string> nodes;
  for (const std::string& node : request.nodes()) {
    if (auto s = CheckName("nodes", node); !s.ok()) return s;
    nodes.push_back(node);
  }
  return backend_->Coordinates(nodes);
}

absl::StatusOr<pb::AgentKeysResponse> AgentService::Keys(
    const pb::AgentKeysRequest& request) {
  if (request.op() == pb::AgentKeysRequest::OP_UNSPECIFIED ||
      !pb::AgentKeysRequest::Op_IsValid(request.op())) {
    return absl::InvalidArgumentError(
        "op: say which operation (LIST, INSTALL, USE, REMOVE)");
  }
  if (request.op() == pb::AgentKeysRequest::LIST) {
    if (!request.key().empty()) {
      return absl::InvalidArgumentError("key: LIST takes no key");
    }
  } else if (request.key().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key: ", pb::AgentKeysRequest::Op_Name(request.op()),
                     " needs a key (base64 of 32 bytes)"));
  } else if (request.key().size() > 256 || !Printable(request.key())) {
    return absl::InvalidArgumentError("key: not a base64 key");
  }
  absl::Duration timeout = absl::Seconds(request.timeout().seconds()) +
                           absl::Nanoseconds(request.timeout().nanos());
  if (timeout < absl::ZeroDuration() || timeout > options_.max_keys_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: ", absl::FormatDuration(timeout),
                     " is outside 0 (the default, 5s) to ",
                     absl::FormatDuration(options_.max_keys_timeout)));
  }
  if (timeout == absl::ZeroDuration()) timeout = absl::Seconds(5);
  return backend_->Keys(request.op(), request.key(), timeout);
}

void AgentService::EndQuery(uint64_t id) {
  uint64_t handle = 0;
  {
    std::lock_guard<std::mutex> lock(running_->mu);
    auto it = running_->byid.find(id);
    if (it == running_->byid.end()) return;  // over already
    handle = it->second.handle;
  }
  // Its summary (or the drop of its callbacks) frees the place.
  if (handle != 0) backend_->CancelQuery(handle);
}

void AgentService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    for (auto& [queue, filter] : subscribers_) {
      queue->Close(absl::UnavailableError("the peer is shutting down"));
    }
    subscribers_.clear();
  }
  // Running queries: their calls end now; the queries are cancelled (the
  // summaries that follow go to closed queues).
  std::vector<uint64_t> handles;
  {
    std::lock_guard<std::mutex> lock(running_->mu);
    for (auto& [id, q] : running_->byid) {
      if (auto queue = q.queue.lock()) {
        queue->Close(absl::UnavailableError("the peer is shutting down"));
      }
      if (q.handle != 0) handles.push_back(q.handle);
    }
  }
  for (uint64_t handle : handles) backend_->CancelQuery(handle);
}

}  // namespace peerlab::agent
