// Internals of the script parser shared by its files (script.cc: the
// driver; script_line.cc: one step line; script_names.cc: parameters,
// groups and ranges; script_check.cc: the checks of a whole script). Not
// for use outside test-harness/script. Pure functions: thread-safe.
#ifndef PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_INTERNAL_H_
#define PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_INTERNAL_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "test-harness/script/script.h"

namespace peerlab::harness::script_internal {

inline constexpr int kMaxErrors = 20;
// A line after ${NAME} replacement, and a parameter's value.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
inline constexpr size_t kMaxParamValueBytes = 4096;

// Every word a script reserves (no peer or group may be named so).
const std::set<std::string, std::less<>>& Keywords();

bool IsSpace(char c);

// Splits off the first word of `*rest` (leading blanks skipped) and leaves
// the remainder, without its leading blanks, in `*rest`.
absl::string_view NextWord(absl::string_view* rest);

// " (did you mean X?)" for the closest candidate, or "".
std::string DidYouMean(absl::string_view word,
                       const std::vector<std::string>& candidates);

// True for a parameter name: [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes.
bool IsValidParamName(absl::string_view name);

// Replaces every ${NAME} of `line` by params[NAME] (`\${` stands for a
// literal `${`) into `*out`, and adds each NAME to `*used`. Returns "" or
// what is wrong (an unknown or malformed name, a result over
// kMaxLineBytes).
std::string SubstituteParams(absl::string_view line,
                             const std::map<std::string, std::string>& params,
                             std::string* out, std::set<std::string>* used);

// The peers one PEER word stands for.
struct Targets {
  std::vector<std::string> peers;  // in order, no duplicates
  bool all = false;     // `all`: every peer of the script (filled in last)
  bool fanout = false;  // a group, a range or `all` (else a single peer)
};

// Resolves PEER words against the groups defined so far.
class TargetResolver {
 public:
  // `groups` must outlive the resolver.
  explicit TargetResolver(
      const std::map<std::string, std::vector<std::string>>* groups)
      : groups_(groups) {}

  // A peer name, a group name, a range `p[1..20]` or, when `allow_all`,
  // `all`. Returns "" or what is wrong ("`WHAT`: ..." prefixed by the
  // caller).
  std::string Resolve(absl::string_view word, bool allow_all,
                      Targets* out) const;
  // A list of words separated by commas or blanks (partition sides, group
  // members, `peers`), without `all`; duplicates are dropped.
  std::string ResolveList(absl::string_view words, Targets* out) const;

  const std::map<std::string, std::vector<std::string>>& groups() const {
    return *groups_;
  }

 private:
  const std::map<std::string, std::vector<std::string>>* groups_;
};

// Parses one step line into `*step` (the PEER word's peers in `*target`,
// `all` in converged/nemesis members in `*members_all`). Returns "" or the
// error, without location.
std::string ParseStepLine(absl::string_view line,
                          const TargetResolver& resolver, Step* step,
                          Targets* target, bool* members_all);

}  // namespace peerlab::harness::script_internal

#endif  // PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_INTERNAL_H_
