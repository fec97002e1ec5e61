#include "test-harness/check/kv_check.h"

#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace peerlab::harness::check {
namespace {

// (lamport, node) newer than (lamport, node): peer/membership NewerStamp.
bool Newer(uint64_t al, const std::string& an, uint64_t bl,
           const std::string& bn) {
  if (al != bl) return al > bl;
  return an > bn;
}

std::string Describe(const KvEntry& e) {
  if (e.deleted) {
    return absl::StrCat("deleted (lamport ", e.lamport, ", ", e.node, ")");
  }
  return absl::StrCat("\"", e.value, "\" (lamport ", e.lamport, ", ", e.node,
                      ")");
}

std::string Describe(const KvHistory::Write& w) {
  return absl::StrCat(w.deleted ? "broadcastdel" : "broadcastadd", " by ",
                      w.peer,
                      w.deleted ? "" : absl::StrCat(" of \"", w.value, "\""),
                      " (lamport ", w.lamport, ")");
}

// "KEY (lamport N)" -> KEY, N.
bool SplitStamp(absl::string_view text, std::string* rest, uint64_t* lamport) {
  size_t at = text.rfind(" (lamport ");
  if (at == absl::string_view::npos || !absl::EndsWith(text, ")")) {
    return false;
  }
  absl::string_view number = text.substr(at + 10, text.size() - at - 11);
  if (!absl::SimpleAtoi(number, lamport)) return false;
  *rest = std::string(text.substr(0, at));
  return true;
}

}  // namespace

std::vector<KvHistory::Write> KvWritesOfStep(
    const std::string& peer, const std::string& command, bool ok,
    const std::vector<std::string>& output, absl::Time at) {
  std::vector<std::string> words =
      absl::StrSplit(command, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  std::vector<KvHistory::Write> writes;
  if (words.empty()) return writes;
  if (words[0] == "broadcastadd" && words.size() >= 3) {
    KvHistory::Write w{
        .peer = peer,
        .key = words[1],
        .value = absl::StrJoin(words.begin() + 2, words.end(), " "),
        .acknowledged = false,
        .at = at};
    if (ok && !output.empty()) {
      std::string rest;
      if (SplitStamp(output.front(), &rest, &w.lamport)) {
        w.acknowledged = true;
      }
    }
    writes.push_back(std::move(w));
  } else if (words[0] == "broadcastdel" && words.size() >= 2) {
    std::map<std::string, uint64_t> stamps;
    if (ok && !output.empty()) {
      absl::string_view line = output.back();
      if (absl::ConsumePrefix(&line, "deleted ")) {
        for (absl::string_view part : absl::StrSplit(line, "), ")) {
          std::string piece(part);
          if (!absl::EndsWith(piece, ")")) piece += ")";
          std::string key;
          uint64_t lamport = 0;
          if (SplitStamp(piece, &key, &lamport)) stamps[key] = lamport;
        }
      }
    }
    for (size_t i = 1; i < words.size(); ++i) {
      auto it = stamps.find(words[i]);
      writes.push_back({.peer = peer,
                        .key = words[i],
                        .deleted = true,
                        .lamport = it == stamps.end() ? 0 : it->second,
                        .acknowledged = it != stamps.end(),
                        .at = at});
    }
  }
  return writes;
}

absl::StatusOr<std::map<std::string, KvEntry>> ParseKvList(
    const std::vector<std::string>& output) {
  std::map<std::string, KvEntry> entries;
  for (const std::string& line : output) {
    if (absl::EndsWith(line, " key(s)")) continue;
    std::vector<std::string> words =
        absl::StrSplit(line, absl::MaxSplits(' ', 3));
    KvEntry e;
    if (words.size() < 4 || !absl::StartsWith(words[1], "@") ||
        !absl::SimpleAtoi(absl::string_view(words[1]).substr(1), &e.lamport)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a stamped key/value line: \"", line, "\""));
    }
    e.node = words[2];
    if (words[3] == "deleted") {
      e.deleted = true;
    } else if (absl::StartsWith(words[3], "= ") || words[3] == "=") {
      e.value = words[3].size() > 2 ? words[3].substr(2) : "";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("not a stamped key/value line: \"", line, "\""));
    }
    entries[words[0]] = std::move(e);
  }
  return entries;
}

CheckResult CheckKv(const KvHistory& h) {
  CheckResult result{.checker = "kv"};
  auto fail = [&](std::string summary, std::string counterexample) {
    result.ok = false;
    result.summary = std::move(summary);
    result.counterexample = std::move(counterexample);
    return result;
  };
  if (h.final_maps.empty()) {
    return fail("no healthy peer's map was read at the end: nothing checked",
                "");
  }
  auto live = [](const std::map<std::string, KvEntry>& m,
                 const std::string& key) -> const KvEntry* {
    auto it = m.find(key);
    return it == m.end() || it->second.deleted ? nullptr : &it->second;
  };
  // Identical live entries everywhere: the first key (by name) that differs.
  std::set<std::string> keys;
  for (const auto& [peer, m] : h.final_maps) {
    for (const auto& [key, e] : m) keys.insert(key);
  }
  for (const auto& w : h.writes) keys.insert(w.key);
  const auto& [first_peer, first] = *h.final_maps.begin();
  for (const std::string& key : keys) {
    const KvEntry* a = live(first, key);
    for (const auto& [peer, m] : h.final_maps) {
      const KvEntry* b = live(m, key);
      if ((a == nullptr) != (b == nullptr) || (a && !(*a == *b))) {
        return fail(absl::StrCat("the maps of ", h.final_maps.size(),
                                 " healthy peers differ"),
                    absl::StrCat("key ", key, ": ", first_peer, " has ",
                                 a ? Describe(*a) : "none", ", ", peer, " has ",
                                 b ? Describe(*b) : "none"));
      }
    }
  }
  auto since = [&](const std::string& peer) {
    auto it = h.healthy_since.find(peer);
    return it == h.healthy_since.end() ? absl::InfiniteFuture() : it->second;
  };
  // Each key against its writes.
  std::map<std::string, std::vector<const KvHistory::Write*>> by_key;
  for (const auto& w : h.writes) by_key[w.key].push_back(&w);
  size_t acknowledged = 0;
  for (const std::string& key : keys) {
    const KvEntry* final_entry = nullptr;
    auto it = first.find(key);
    if (it != first.end()) final_entry = &it->second;
    const KvHistory::Write* required = nullptr;
    for (const KvHistory::Write* w : by_key[key]) {
      if (!w->acknowledged) continue;
      ++acknowledged;
      if (w->at < since(w->peer)) continue;
      if (!required ||
          Newer(w->lamport, w->peer, required->lamport, required->peer)) {
        required = w;
      }
    }
    const KvEntry* shown = live(first, key);
    if (required) {
      bool newer_or_same =
          final_entry && !Newer(required->lamport, required->peer,
                                final_entry->lamport, final_entry->node);
      // A required delete may have been forgotten with its tombstone only
      // if nothing live is left.
      if (!newer_or_same && !(required->deleted && !shown)) {
        return fail(
            "a key does not hold its last write",
            absl::StrCat("key ", key, ": the last write ", Describe(*required),
                         " at ", absl::ToDoubleSeconds(required->at - h.start),
                         " s; the healthy peers hold ",
                         final_entry ? Describe(*final_entry) : "none"));
      }
      if (newer_or_same && final_entry->lamport == required->lamport &&
          final_entry->node == required->peer &&
          (final_entry->deleted != required->deleted ||
           (!required->deleted && final_entry->value != required->value))) {
        return fail(
            "a key holds another value than its write",
            absl::StrCat("key ", key, ": ", Describe(*required),
                         "; the healthy peers hold ", Describe(*final_entry)));
      }
    }
    if (!shown) continue;
    // Whatever is live was written by someone.
    bool made = false;
    for (const KvHistory::Write* w : by_key[key]) {
      if (w->deleted || w->peer != shown->node || w->value != shown->value) {
        continue;
      }
      if (!w->acknowledged || w->lamport == shown->lamport) made = true;
    }
    if (!made) {
      return fail("a key holds a value nobody wrote",
                  absl::StrCat("key ", key, ": the healthy peers hold ",
                               Describe(*shown),
                               ", which no broadcastadd of the run wrote"));
    }
  }
  result.summary = absl::StrCat(
      h.final_maps.size(), " healthy peers hold the same ",
      [&] {
        size_t n = 0;
        for (const auto& [k, e] : first) {
          n += e.deleted ? 0 : 1;
        }
        return n;
      }(),
      " keys, the last of ", acknowledged, " acknowledged writes");
  return result;
}

}  // namespace peerlab::harness::check
