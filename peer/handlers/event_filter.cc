#include "peer/handlers/event_filter.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "peer/cli/parser.h"

namespace peerlab::handlers {
namespace {

constexpr size_t kMaxProgramBytes = 4096;

const std::vector<std::string>& Types() {
  static const auto* types = new std::vector<std::string>{
      kMemberJoin, kMemberLeave, kMemberFailed, kMemberUpdate,
      kMemberReap, kUser,        kQuery};
  return *types;
}

bool IsType(absl::string_view t) {
  for (const std::string& type : Types()) {
    if (t == type) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<EventFilter> EventFilter::Parse(absl::string_view text) {
  EventFilter f;
  f.parts_.clear();
  std::vector<std::string> normalized;
  for (absl::string_view raw : absl::StrSplit(text, ',')) {
    Part part;
    const std::string item(raw);
    if (item == "*") {
      part.type = "*";
    } else if (IsType(item)) {
      part.type = item;
    } else if (absl::StartsWith(item, "user:") ||
               absl::StartsWith(item, "query:")) {
      const size_t colon = item.find(':');
      part.type = item.substr(0, colon);
      part.name = item.substr(colon + 1);
      part.has_name = true;
      if (part.name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "event filter '", item, "': a name after ", part.type, ":"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "event filter '", item, "' is not one of *, ",
          absl::StrJoin(Types(), ", "), ", user:NAME, query:NAME"));
    }
    normalized.push_back(item);
    f.parts_.push_back(std::move(part));
  }
  f.text_ = absl::StrJoin(normalized, ",");
  return f;
}

bool EventFilter::Matches(absl::string_view type,
                          absl::string_view name) const {
  for (const Part& p : parts_) {
    if (p.type == "*") return true;
    if (p.type != type) continue;
    if (!p.has_name || p.name == name) return true;
  }
  return false;
}

absl::StatusOr<HandlerSpec> ParseHandlerSpec(absl::string_view spec) {
  HandlerSpec out;
  absl::string_view program = spec;
  const size_t eq = spec.find('=');
  if (eq != absl::string_view::npos) {
    const absl::string_view head = spec.substr(0, eq);
    // A filter has no space, quote or slash; anything else before the '='
    // belongs to the program ("/bin/env A=B prog").
    if (!head.empty() &&
        head.find_first_of(" \t'\"/\\") == absl::string_view::npos) {
      auto filter = EventFilter::Parse(head);
      if (!filter.ok()) return filter.status();
      out.filter = *std::move(filter);
      program = spec.substr(eq + 1);
    }
  }
  if (program.size() > kMaxProgramBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event handler: the program is over ", kMaxProgramBytes, " bytes"));
  }
  auto words = cli::SplitWords(program);
  if (!words.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("event handler: ", words.status().message()));
  }
  if (words->empty() || (*words)[0].empty()) {
    return absl::InvalidArgumentError(
        "event handler: no program ([FILTER=]PROGRAM)");
  }
  out.argv = *std::move(words);
  out.program = std::string(program);
  return out;
}

}  // namespace peerlab::handlers
