#include "peer/cli/completion.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/cli/command.h"

namespace peerlab::cli {
namespace {

// One word of a partly typed line: where it starts and what it means.
struct Word {
  size_t start = 0;
  std::string value;  // unquoted, as the parser would give it
};

// Splits `line` like cli::SplitWords, but never fails: an unterminated quote
// or a trailing backslash ends the last word. When `line` ends outside a
// word, the last word is a new empty one at line.size().
std::vector<Word> ScanWords(absl::string_view line) {
  std::vector<Word> words;
  Word word;
  bool in_word = false;
  enum { kNone, kSingle, kDouble } quote = kNone;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote == kSingle) {
      if (c == '\'') {
        quote = kNone;
      } else {
        word.value += c;
      }
      continue;
    }
    if (quote == kDouble) {
      if (c == '"') {
        quote = kNone;
      } else if (c == '\\' && i + 1 < line.size() &&
                 (line[i + 1] == '"' || line[i + 1] == '\\')) {
        word.value += line[++i];
      } else {
        word.value += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(word));
        word = Word();
        in_word = false;
      }
      continue;
    }
    if (!in_word) {
      in_word = true;
      word.start = i;
    }
    if (c == '\'') {
      quote = kSingle;
    } else if (c == '"') {
      quote = kDouble;
    } else if (c == '\\') {
      if (i + 1 < line.size()) word.value += line[++i];
    } else {
      word.value += c;
    }
  }
  if (!in_word) word.start = line.size();
  words.push_back(std::move(word));
  return words;
}

// A candidate: the full value that replaces the word, and how it is listed.
struct Candidate {
  std::string value;
  std::string shown;
  bool complete = true;  // false for directories: more may follow
};

void AddCommandNames(const cli::Registry& registry, absl::string_view prefix,
                     absl::string_view lead, std::vector<Candidate>* out) {
  for (const cli::Command& command : registry.Commands()) {
    if (!absl::StartsWith(command.name, prefix)) continue;
    std::string value = absl::StrCat(lead, command.name);
    out->push_back({value, value, true});
  }
}

void AddPaths(absl::string_view typed, const std::string& cwd,
              std::vector<Candidate>* out) {
  size_t slash = typed.rfind('/');
  std::string dir_part = slash == absl::string_view::npos
                             ? ""
                             : std::string(typed.substr(0, slash + 1));
  absl::string_view base =
      slash == absl::string_view::npos ? typed : typed.substr(slash + 1);
  std::filesystem::path dir;
  if (dir_part.empty()) {
    dir = cwd;
  } else if (dir_part.front() == '/') {
    dir = dir_part;
  } else {
    dir = std::filesystem::path(cwd) / dir_part;
  }
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!absl::StartsWith(name, base)) continue;
    if (name.front() == '.' && (base.empty() || base.front() != '.')) continue;
    std::error_code type_ec;
    bool is_dir = it->is_directory(type_ec);  // follows symbolic links
    std::string suffix = is_dir ? "/" : "";
    out->push_back({absl::StrCat(dir_part, name, suffix),
                    absl::StrCat(name, suffix), !is_dir});
  }
}

size_t CommonPrefixLength(const std::vector<Candidate>& candidates) {
  size_t n = candidates.front().value.size();
  for (const Candidate& c : candidates) {
    size_t i = 0;
    while (i < n && i < c.value.size() &&
           c.value[i] == candidates.front().value[i]) {
      ++i;
    }
    n = i;
  }
  return n;
}

}  // namespace

std::string EscapeWord(absl::string_view word) {
  std::string out;
  for (char c : word) {
    if (c == ' ' || c == '\t' || c == '\'' || c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

CompletionResult Complete(const cli::Registry& registry, absl::string_view line,
                          const std::string& cwd) {
  std::vector<Word> words = ScanWords(line);
  const Word& word = words.back();
  CompletionResult result;
  result.word_start = word.start;
  result.replacement = std::string(line.substr(word.start));

  std::vector<Candidate> candidates;
  if (words.size() == 1) {
    absl::string_view typed = word.value;
    absl::string_view lead;
    if (absl::StartsWith(typed, "/")) {
      lead = "/";
      typed.remove_prefix(1);
    }
    AddCommandNames(registry, typed, lead, &candidates);
  } else {
    absl::string_view name = words.front().value;
    if (absl::StartsWith(name, "/")) name.remove_prefix(1);
    std::optional<cli::Command> command = registry.Find(name);
    if (!command.has_value()) return result;
    switch (command->completion) {
      case cli::Completion::kNone:
        return result;
      case cli::Completion::kCommand:
        AddCommandNames(registry, word.value, "", &candidates);
        break;
      case cli::Completion::kFile:
        AddPaths(word.value, cwd, &candidates);
        break;
    }
  }
  if (candidates.empty()) return result;

  std::sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.value < b.value; });
  for (const Candidate& c : candidates) result.matches.push_back(c.shown);
  std::string prefix =
      candidates.front().value.substr(0, CommonPrefixLength(candidates));
  result.replacement = EscapeWord(prefix);
  if (candidates.size() == 1 && candidates.front().complete) {
    result.replacement += ' ';
  }
  return result;
}

std::string FormatColumns(const std::vector<std::string>& items, size_t width) {
  if (items.empty()) return "";
  size_t longest = 0;
  for (const std::string& item : items)
    longest = std::max(longest, item.size());
  const size_t column = longest + 2;
  const size_t columns = std::max<size_t>(1, (width + 2) / column);
  const size_t rows = (items.size() + columns - 1) / columns;
  std::vector<std::string> out;
  for (size_t r = 0; r < rows; ++r) {
    std::string row;
    for (size_t c = 0; c < columns; ++c) {
      size_t i = c * rows + r;
      if (i >= items.size()) break;
      if (!row.empty()) row.append(column - (row.size() % column), ' ');
      row += items[i];
    }
    out.push_back(std::move(row));
  }
  return absl::StrJoin(out, "\n");
}

}  // namespace peerlab::cli
