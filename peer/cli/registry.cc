#include "peer/cli/registry.h"

#include <algorithm>
#include <exception>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/cli/parser.h"

namespace peerlab::cli {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status Registry::Register(Command command) {
  if (!ValidName(command.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("command name \"", command.name,
                     "\" must be one word of letters, digits, '-', '_', '.'"));
  }
  if (command.group.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.name, ": no group"));
  }
  if (!command.handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.name, ": no handler"));
  }
  if (command.max_args >= 0 && command.max_args < command.min_args) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.name, ": max_args < min_args"));
  }
  if (command.usage.empty()) command.usage = command.name;
  std::lock_guard<std::mutex> lock(mu_);
  if (commands_.count(command.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("command \"", command.name, "\" is already registered"));
  }
  std::string name = command.name;
  commands_.emplace(std::move(name), std::move(command));
  return absl::OkStatus();
}

std::optional<Command> Registry::Find(absl::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = commands_.find(name);
  if (it == commands_.end()) return std::nullopt;
  return it->second;
}

std::vector<Command> Registry::Commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Command> out;
  for (const auto& [name, command] : commands_) out.push_back(command);
  return out;
}

std::vector<std::string> Registry::Groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> groups;
  for (const auto& [name, command] : commands_) groups.insert(command.group);
  return std::vector<std::string>(groups.begin(), groups.end());
}

std::vector<std::string> Registry::Suggest(absl::string_view name,
                                           size_t limit) const {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [candidate, command] : commands_)
      names.push_back(candidate);
  }
  return ClosestNames(name, names, limit);
}

std::vector<std::string> Registry::TypoOf(absl::string_view word) const {
  // Short words are ordinary words ("ok", "yes", "hello"): only a longer
  // word may be a typo, and only a close one.
  const size_t allowed = word.size() >= 8 ? 2 : word.size() >= 3 ? 1 : 0;
  std::vector<std::string> out;
  if (allowed == 0) return out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, command] : commands_) {
    if (EditDistance(word, name) <= allowed) out.push_back(name);
  }
  return out;
}

void Registry::SetFallback(Fallback fallback) {
  std::lock_guard<std::mutex> lock(mu_);
  fallback_ = std::move(fallback);
}

absl::Status Registry::Execute(absl::string_view line, Output& out, int depth,
                               bool remote) const {
  if (depth == 0 && !remote) {
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    absl::string_view first = trimmed.substr(0, trimmed.find_first_of(" \t"));
    Fallback fallback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fallback_ && !first.empty() && first.front() != '/' &&
          commands_.find(first) == commands_.end()) {
        fallback = fallback_;
      }
    }
    if (fallback) {
      // One word close to a command is a typo, not a message for everybody.
      absl::string_view word = absl::StripTrailingAsciiWhitespace(trimmed);
      if (word.size() == first.size()) {
        std::vector<std::string> close = TypoOf(word);
        if (!close.empty()) {
          return absl::NotFoundError(
              absl::StrCat("unknown command \"", word,
                           "\"; did you mean: ", absl::StrJoin(close, ", "),
                           "? (to send it as a message: msg ", word, ")"));
        }
      }
      std::optional<absl::Status> taken = fallback(trimmed, out);
      if (taken.has_value()) return *taken;
    }
  }
  auto parsed = ParseLine(line);
  if (!parsed.ok()) return parsed.status();
  if (parsed->command.empty()) return absl::OkStatus();
  std::optional<Command> command = Find(parsed->command);
  if (!command.has_value()) {
    std::string message =
        absl::StrCat("unknown command \"", parsed->command, "\"");
    std::vector<std::string> close = Suggest(parsed->command);
    if (!close.empty()) {
      absl::StrAppend(&message, "; did you mean: ", absl::StrJoin(close, ", "),
                      "?");
    } else {
      absl::StrAppend(&message, "; type help for the list");
    }
    return absl::NotFoundError(message);
  }
  int n = static_cast<int>(parsed->args.size());
  if (n < command->min_args ||
      (command->max_args >= 0 && n > command->max_args)) {
    return absl::InvalidArgumentError(absl::StrCat("usage: ", command->usage));
  }
  Call call{command->name, std::move(parsed->args), std::move(parsed->rest),
            depth, remote};
  try {
    return command->handler(call, out);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(command->name, " failed unexpectedly: ", e.what()));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat(command->name, " failed unexpectedly"));
  }
}

}  // namespace peerlab::cli
