// Which events an event handler runs for, as Serf's handler filters:
// member-join, member-leave, member-failed, member-update, member-reap,
// user, user:NAME, query, query:NAME and `*`, several joined by commas
// ("member-join,member-leave"). And the `--event-handler [FILTER=]PROGRAM`
// spec: FILTER, when the text before the first '=' is one, then PROGRAM,
// split into words as the peer's command line splits them (quotes,
// backslashes; peer/cli/parser.h) and run without a shell. Pure.
#ifndef PEERLAB_PEER_HANDLERS_EVENT_FILTER_H_
#define PEERLAB_PEER_HANDLERS_EVENT_FILTER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::handlers {

// The event types, as PEERLAB_EVENT names them.
inline constexpr char kMemberJoin[] = "member-join";
inline constexpr char kMemberLeave[] = "member-leave";
inline constexpr char kMemberFailed[] = "member-failed";
inline constexpr char kMemberUpdate[] = "member-update";
inline constexpr char kMemberReap[] = "member-reap";
inline constexpr char kUser[] = "user";
inline constexpr char kQuery[] = "query";

class EventFilter {
 public:
  // Every event.
  EventFilter() = default;
  // InvalidArgument naming the bad part and the valid ones.
  static absl::StatusOr<EventFilter> Parse(absl::string_view text);

  // Whether an event of `type` (one of the names above) named `name` (the
  // user event's or query's; "" for member events) passes.
  bool Matches(absl::string_view type, absl::string_view name) const;
  // The filter as given (normalized: "*" for every event).
  const std::string& text() const { return text_; }

 private:
  struct Part {
    std::string type;  // "*" or an event type
    std::string name;  // user:NAME / query:NAME; "" for any
    bool has_name = false;
  };
  std::vector<Part> parts_{{"*", "", false}};
  std::string text_ = "*";
};

struct HandlerSpec {
  EventFilter filter;
  std::vector<std::string> argv;  // argv[0]: a path, or a name found in PATH
  std::string program;            // PROGRAM as given (for `handler list`)
};

// Parses "[FILTER=]PROGRAM". InvalidArgument for an empty program, a bad
// quote, an invalid FILTER (when the part before '=' looks like one: no
// space, no '/'), a program longer than 4096 bytes.
absl::StatusOr<HandlerSpec> ParseHandlerSpec(absl::string_view spec);

}  // namespace peerlab::handlers

#endif  // PEERLAB_PEER_HANDLERS_EVENT_FILTER_H_
