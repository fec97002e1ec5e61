#include "peer/cli/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "peer/cli/parser.h"
#include "base/bounded_file.h"

namespace peerlab::cli {
namespace {

absl::Status Bad(const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", why));
}

absl::Status LocalOnly(const std::string& key) {
  return absl::PermissionDeniedError(
      absl::StrCat(key, " cannot be changed by remote callers"));
}

}  // namespace

bool ConfigRegistry::IsSecuritySetting(const std::string& name) {
  std::string lower = absl::AsciiStrToLower(name);
  size_t dot = lower.rfind('.');
  std::string leaf = dot == std::string::npos ? lower : lower.substr(dot + 1);
  if (absl::StartsWith(lower, "security.") || absl::StartsWith(leaf, "allow") ||
      absl::StartsWith(leaf, "insecure") || leaf == "label" ||
      absl::EndsWith(leaf, "_label")) {
    return true;
  }
  for (const char* word : {"key", "token", "secret", "password", "cert", "tls",
                           "encrypt", "auth", "trust", "pinned"}) {
    if (absl::StrContains(leaf, word)) return true;
  }
  return false;
}

absl::Status ConfigRegistry::Add(Key key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (key.name.empty()) return absl::InvalidArgumentError("empty config key");
  if (keys_.count(key.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("config key ", key.name, " is already registered"));
  }
  // The rule belongs to the setting: whatever registers a security
  // setting, remote callers cannot change it.
  if (IsSecuritySetting(key.name)) key.local_only = true;
  std::string name = key.name;
  keys_.emplace(std::move(name), std::move(key));
  return absl::OkStatus();
}

absl::Status ConfigRegistry::AddString(const std::string& name,
                                       const std::string& help,
                                       std::string* target) {
  return Add({name, help, Type::kString,
              [](const std::string& text) -> absl::StatusOr<std::string> {
                return text;
              },
              [target](const std::string& v) { *target = v; },
              [target] { return *target; }});
}

absl::Status ConfigRegistry::AddInt(const std::string& name,
                                    const std::string& help, int64_t* target,
                                    int64_t min, int64_t max) {
  return Add(
      {name, help, Type::kInt,
       [name, min,
        max](const std::string& text) -> absl::StatusOr<std::string> {
         int64_t v;
         if (!absl::SimpleAtoi(text, &v)) {
           return Bad(name, absl::StrCat("\"", text, "\" is not an integer"));
         }
         if (v < min || v > max) {
           return Bad(name, absl::StrCat(v, " is outside ", min, "..", max));
         }
         return absl::StrCat(v);
       },
       [target](const std::string& v) { (void)absl::SimpleAtoi(v, target); },
       [target] { return absl::StrCat(*target); }});
}

absl::Status ConfigRegistry::AddDouble(const std::string& name,
                                       const std::string& help, double* target,
                                       double min, double max) {
  return Add(
      {name, help, Type::kDouble,
       [name, min,
        max](const std::string& text) -> absl::StatusOr<std::string> {
         double v;
         if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
           return Bad(name, absl::StrCat("\"", text, "\" is not a number"));
         }
         if (v < min || v > max) {
           return Bad(name, absl::StrCat(v, " is outside ", min, "..", max));
         }
         return absl::StrCat(v);
       },
       [target](const std::string& v) { (void)absl::SimpleAtod(v, target); },
       [target] { return absl::StrCat(*target); }});
}

absl::Status ConfigRegistry::AddBool(const std::string& name,
                                     const std::string& help, bool* target) {
  return Add({name, help, Type::kBool,
              [name](const std::string& text) -> absl::StatusOr<std::string> {
                bool v;
                if (!absl::SimpleAtob(text, &v)) {
                  return Bad(name, absl::StrCat("\"", text,
                                                "\" is not true or false"));
                }
                return std::string(v ? "true" : "false");
              },
              [target](const std::string& v) { *target = v == "true"; },
              [target] { return std::string(*target ? "true" : "false"); }});
}

absl::Status ConfigRegistry::AddDuration(const std::string& name,
                                         const std::string& help,
                                         absl::Duration* target,
                                         absl::Duration min) {
  return Add(
      {name, help, Type::kDuration,
       [name, min](const std::string& text) -> absl::StatusOr<std::string> {
         absl::Duration d;
         if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration()) {
           return Bad(name, absl::StrCat("\"", text,
                                         "\" is not a duration (e.g. "
                                         "200ms, 1.5s, 2m)"));
         }
         if (d < min) {
           return Bad(name, absl::StrCat(absl::FormatDuration(d),
                                         " is below the minimum ",
                                         absl::FormatDuration(min)));
         }
         return absl::FormatDuration(d);
       },
       [target](const std::string& v) { (void)absl::ParseDuration(v, target); },
       [target] { return absl::FormatDuration(*target); }});
}

absl::Status ConfigRegistry::MarkLocalOnly(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown config key \"", name, "\""));
  }
  it->second.local_only = true;
  return absl::OkStatus();
}

absl::Status ConfigRegistry::Set(const std::string& name,
                                 const std::string& value, bool remote) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    std::vector<std::string> names;
    for (const auto& [k, key] : keys_) names.push_back(k);
    std::vector<std::string> close = ClosestNames(name, names);
    return absl::NotFoundError(absl::StrCat(
        "unknown config key \"", name, "\"",
        close.empty() ? "; see show config"
                      : absl::StrCat("; did you mean: ",
                                     absl::StrJoin(close, ", "), "?")));
  }
  if (remote && it->second.local_only) return LocalOnly(it->first);
  auto canonical = it->second.parse(value);
  if (!canonical.ok()) return canonical.status();
  it->second.apply(*canonical);
  return absl::OkStatus();
}

void ConfigRegistry::AddNotice(const std::string& prefix,
                               std::function<std::string()> notice) {
  std::lock_guard<std::mutex> lock(mu_);
  notices_.emplace_back(prefix, std::move(notice));
}

std::string ConfigRegistry::Notice(const std::string& name) const {
  std::vector<std::function<std::string()>> matching;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [prefix, notice] : notices_) {
      if (name.rfind(prefix, 0) == 0) matching.push_back(notice);
    }
  }
  std::vector<std::string> lines;
  for (const auto& notice : matching) {
    if (std::string line = notice(); !line.empty()) lines.push_back(line);
  }
  return absl::StrJoin(lines, "; ");
}

absl::StatusOr<std::string> ConfigRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown config key \"", name, "\""));
  }
  return it->second.get();
}

std::vector<ConfigRegistry::Row> ConfigRegistry::Rows() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Row> rows;
  for (const auto& [name, key] : keys_) {
    rows.push_back({name, key.get(), key.help});
  }
  return rows;
}

std::string ConfigRegistry::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, key] : keys_) {
    std::string v = key.get();
    switch (key.type) {
      case Type::kInt: {
        int64_t n = 0;
        (void)absl::SimpleAtoi(v, &n);
        j[name] = n;
        break;
      }
      case Type::kDouble: {
        double d = 0;
        (void)absl::SimpleAtod(v, &d);
        j[name] = d;
        break;
      }
      case Type::kBool:
        j[name] = v == "true";
        break;
      default:
        j[name] = v;
    }
  }
  return j.dump(2) + "\n";
}

absl::Status ConfigRegistry::LoadJson(const std::string& json_text,
                                      bool remote) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("config is not valid JSON");
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError("config must be a JSON object");
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<const Key*, std::string>> staged;
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto found = keys_.find(it.key());
    if (found == keys_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown config key \"", it.key(), "\"; nothing was changed"));
    }
    // it.key() is the parsed key (escapes decoded): the decision is on
    // the key itself, whatever its spelling in the file.
    if (remote && found->second.local_only) {
      return absl::PermissionDeniedError(
          absl::StrCat(LocalOnly(found->first).message(),
                       " (not loadable remotely); nothing was changed"));
    }
    std::string text;
    const nlohmann::json& v = it.value();
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_boolean() || v.is_number()) {
      text = v.dump();
    } else {
      return Bad(it.key(),
                 "must be a string, number or boolean; nothing was "
                 "changed");
    }
    auto canonical = found->second.parse(text);
    if (!canonical.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(canonical.status().message(), "; nothing was changed"));
    }
    staged.emplace_back(&found->second, *canonical);
  }
  // Keys that set others (a profile) first: the file's other values then
  // stand, whatever the order of the names.
  std::stable_partition(staged.begin(), staged.end(),
                        [](const std::pair<const Key*, std::string>& k) {
                          return k.first->apply_first;
                        });
  for (const auto& [key, value] : staged) key->apply(value);
  return absl::OkStatus();
}

absl::Status ConfigRegistry::SaveFile(const std::string& path) const {
  return WriteFileAtomically(path, ToJson(), "saveconfig");
}

absl::Status ConfigRegistry::LoadFile(const std::string& path, bool remote) {
  absl::StatusOr<std::string> text =
      ReadFileBounded(path, kMaxConfigFileBytes, "config file");
  if (!text.ok()) return text.status();
  absl::Status s = LoadJson(*text, remote);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace peerlab::cli
