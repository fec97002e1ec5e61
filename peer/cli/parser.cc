#include "peer/cli/parser.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace peerlab::cli {

absl::StatusOr<std::vector<std::string>> SplitWords(absl::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  enum { kNone, kSingle, kDouble } quote = kNone;
  size_t quote_start = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    switch (quote) {
      case kSingle:
        if (c == '\'') {
          quote = kNone;
        } else {
          word += c;
        }
        continue;
      case kDouble:
        if (c == '"') {
          quote = kNone;
        } else if (c == '\\' && i + 1 < line.size() &&
                   (line[i + 1] == '"' || line[i + 1] == '\\')) {
          word += line[++i];
        } else {
          word += c;
        }
        continue;
      case kNone:
        break;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\'') {
      quote = kSingle;
      quote_start = i;
    } else if (c == '"') {
      quote = kDouble;
      quote_start = i;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trailing backslash at column ", i + 1));
      }
      word += line[++i];
    } else {
      word += c;
    }
  }
  if (quote != kNone) {
    return absl::InvalidArgumentError(
        absl::StrCat("unterminated ", quote == kSingle ? "single" : "double",
                     " quote starting at column ", quote_start + 1));
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

absl::StatusOr<ParsedLine> ParseLine(absl::string_view line) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
  if (!trimmed.empty() && trimmed.front() == '/') trimmed.remove_prefix(1);
  auto words = SplitWords(trimmed);
  if (!words.ok()) return words.status();
  ParsedLine parsed;
  if (words->empty()) return parsed;
  parsed.command = (*words)[0];
  parsed.args.assign(words->begin() + 1, words->end());
  // The raw rest: skip the first word as typed (it may be quoted, rarely).
  size_t i = 0;
  bool single = false, dbl = false;
  for (; i < trimmed.size(); ++i) {
    char c = trimmed[i];
    if (single) {
      single = c != '\'';
    } else if (dbl) {
      dbl = c != '"';
    } else if (c == '\'') {
      single = true;
    } else if (c == '"') {
      dbl = true;
    } else if (c == '\\') {
      ++i;
    } else if (c == ' ' || c == '\t') {
      break;
    }
  }
  parsed.rest = std::string(
      absl::StripAsciiWhitespace(trimmed.substr(std::min(i, trimmed.size()))));
  return parsed;
}

std::string QuoteWord(absl::string_view word) {
  bool plain = !word.empty();
  for (char c : word) {
    if (c == ' ' || c == '\t' || c == '\'' || c == '"' || c == '\\' ||
        c == '\n' || c == '\r') {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";  // close, escaped quote, reopen
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> ClosestNames(
    absl::string_view name, const std::vector<std::string>& candidates,
    size_t limit) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(name, candidate);
    if (name.size() >= 2 && absl::StartsWith(candidate, name))
      d = std::min<size_t>(d, 1);
    if (d <= 3 && d < std::max(candidate.size(), name.size())) {
      scored.emplace_back(d, candidate);
    }
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) {
    out.push_back(scored[i].second);
  }
  return out;
}

}  // namespace peerlab::cli
