// Names in scripts: peer names, keywords, parameters (${NAME}), groups and
// ranges (p[1..20]).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "test-harness/script/script.h"
#include "test-harness/script/script_internal.h"

namespace peerlab::harness {
namespace script_internal {
namespace {

// Expands `word` when it is a range PREFIX[FIRST..LAST]SUFFIX. Returns "" or
// what is wrong.
std::string ExpandRange(absl::string_view word, std::vector<std::string>* out) {
  const std::string usage = absl::StrCat(
      "range ", word,
      ": expected NAME[FIRST..LAST] (whole numbers, FIRST <= LAST, e.g. "
      "p[1..20])");
  const size_t open = word.find('[');
  const size_t close = word.find(']');
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open || word.find('[', open + 1) != absl::string_view::npos ||
      word.find(']', close + 1) != absl::string_view::npos) {
    return usage;
  }
  absl::string_view prefix = word.substr(0, open);
  absl::string_view suffix = word.substr(close + 1);
  absl::string_view inside = word.substr(open + 1, close - open - 1);
  const size_t dots = inside.find("..");
  if (dots == absl::string_view::npos) return usage;
  absl::string_view first = inside.substr(0, dots);
  absl::string_view last = inside.substr(dots + 2);
  auto digits = [](absl::string_view w) {
    return !w.empty() && w.size() <= 9 &&
           std::all_of(w.begin(), w.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  int64_t lo = 0, hi = 0;
  if (!digits(first) || !digits(last) || !absl::SimpleAtoi(first, &lo) ||
      !absl::SimpleAtoi(last, &hi) || lo > hi) {
    return usage;
  }
  if (hi - lo + 1 > static_cast<int64_t>(kMaxScriptPeers)) {
    return absl::StrCat("range ", word, " names ", hi - lo + 1,
                        " peers, more than the limit of ", kMaxScriptPeers);
  }
  // p[01..20]: the zeros of FIRST fix the width.
  const size_t width =
      first.size() > 1 && first[0] == '0' ? first.size() : size_t{0};
  for (int64_t i = lo; i <= hi; ++i) {
    std::string n = absl::StrCat(i);
    if (n.size() < width) n.insert(0, width - n.size(), '0');
    std::string name = absl::StrCat(prefix, n, suffix);
    if (!IsValidPeerName(name)) {
      return absl::StrCat("range ", word, ": \"", name,
                          "\" is not a peer name (letters, digits, _ . -; at "
                          "most 64)");
    }
    out->push_back(std::move(name));
  }
  return "";
}

// O((n + m) log): a line naming 1,000-peer groups must not take n * m.
void AddUnique(const std::vector<std::string>& names,
               std::vector<std::string>* out) {
  std::set<std::string> seen(out->begin(), out->end());
  for (const std::string& n : names) {
    if (seen.insert(n).second) out->push_back(n);
  }
}

}  // namespace

const std::set<std::string, std::less<>>& Keywords() {
  static const auto* keywords = new std::set<std::string, std::less<>>{
      "expect",  "wait",      "kill",      "stop",   "cont",  "restart",
      "start",   "partition", "heal",      "netem",  "sleep", "peers",
      "group",   "param",     "parallel",  "end",    "all",   "oneway",
      "nemesis", "check",     "converged", "members"};
  return *keywords;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

absl::string_view NextWord(absl::string_view* rest) {
  absl::string_view s = *rest;
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  size_t j = i;
  while (j < s.size() && !IsSpace(s[j])) ++j;
  absl::string_view word = s.substr(i, j - i);
  size_t k = j;
  while (k < s.size() && IsSpace(s[k])) ++k;
  *rest = s.substr(k);
  return word;
}

std::string DidYouMean(absl::string_view word,
                       const std::vector<std::string>& candidates) {
  std::string best = ClosestName(word, candidates);
  return best.empty() ? "" : absl::StrCat(" (did you mean ", best, "?)");
}

bool IsValidParamName(absl::string_view name) {
  if (name.empty() || name.size() > 64 ||
      absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string SubstituteParams(absl::string_view line,
                             const std::map<std::string, std::string>& params,
                             std::string* out, std::set<std::string>* used) {
  out->clear();
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '\\' && line.substr(i + 1, 2) == "${") {
      out->append("${");
      i += 3;
      continue;
    }
    if (line.substr(i, 2) != "${") {
      out->push_back(line[i++]);
      continue;
    }
    const size_t close = line.find('}', i + 2);
    if (close == absl::string_view::npos) {
      return "\"${\" without a closing \"}\" (write \\${ for a literal ${)";
    }
    absl::string_view name = line.substr(i + 2, close - i - 2);
    if (!IsValidParamName(name)) {
      return absl::StrCat("${", name,
                          "}: a parameter name has letters, digits and _ "
                          "(not first a digit)");
    }
    auto it = params.find(std::string(name));
    if (it == params.end()) {
      std::vector<std::string> known;
      for (const auto& [n, v] : params) known.push_back(n);
      return absl::StrCat("unknown parameter ${", name, "}",
                          DidYouMean(name, known), ": declare it with `param ",
                          name, " VALUE` before this line or give --param ",
                          name, "=VALUE");
    }
    used->insert(it->first);
    out->append(it->second);
    if (out->size() > kMaxLineBytes) {
      return absl::StrCat("the line is longer than ", kMaxLineBytes,
                          " bytes once its parameters are replaced");
    }
    i = close + 1;
  }
  return "";
}

std::string TargetResolver::Resolve(absl::string_view word, bool allow_all,
                                    Targets* out) const {
  if (word.empty()) return "missing PEER";
  if (word == "all") {
    if (!allow_all) {
      return "`all` cannot be used here (name the peers, a group or a range)";
    }
    out->all = true;
    out->fanout = true;
    return "";
  }
  if (word.find('[') != absl::string_view::npos ||
      word.find(']') != absl::string_view::npos) {
    std::vector<std::string> names;
    if (std::string e = ExpandRange(word, &names); !e.empty()) return e;
    AddUnique(names, &out->peers);
    out->fanout = true;
    return "";
  }
  if (auto it = groups_->find(std::string(word)); it != groups_->end()) {
    AddUnique(it->second, &out->peers);
    out->fanout = true;
    return "";
  }
  if (!IsValidPeerName(word)) {
    std::vector<std::string> group_names;
    for (const auto& [name, members] : *groups_) group_names.push_back(name);
    return absl::StrCat("\"", word,
                        "\" is not a peer name (letters, digits, _ . -; not a "
                        "harness keyword), a group or a range",
                        DidYouMean(word, group_names));
  }
  AddUnique({std::string(word)}, &out->peers);
  return "";
}

std::string TargetResolver::ResolveList(absl::string_view words,
                                        Targets* out) const {
  int count = 0;
  for (absl::string_view w :
       absl::StrSplit(words, absl::ByAnyChar(", \t"), absl::SkipEmpty())) {
    if (std::string e = Resolve(w, /*allow_all=*/false, out); !e.empty()) {
      return e;
    }
    ++count;
  }
  if (count > 1) out->fanout = true;
  return "";
}

}  // namespace script_internal

bool IsValidPeerName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (script_internal::Keywords().count(name)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string ParseParamAssignment(absl::string_view assignment,
                                 std::map<std::string, std::string>* params) {
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos) {
    return absl::StrCat("\"", assignment, "\" is not NAME=VALUE");
  }
  absl::string_view name = assignment.substr(0, eq);
  absl::string_view value = assignment.substr(eq + 1);
  if (!script_internal::IsValidParamName(name)) {
    return absl::StrCat("\"", name,
                        "\" is not a parameter name (letters, digits and _, "
                        "not first a digit)");
  }
  if (value.size() > script_internal::kMaxParamValueBytes) {
    return absl::StrCat("the value of ", name, " is longer than ",
                        script_internal::kMaxParamValueBytes, " bytes");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return absl::StrCat("the value of ", name,
                          " holds a control character (newline, tab, ...)");
    }
  }
  (*params)[std::string(name)] = std::string(value);
  return "";
}

}  // namespace peerlab::harness
