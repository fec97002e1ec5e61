#include "test-harness/check/chat_check.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <unordered_map>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace peerlab::harness::check {
namespace {

std::string Collapse(absl::string_view text) {
  return absl::StrJoin(
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
}

std::string At(absl::Time t, absl::Time start) {
  return absl::StrFormat("+%.3f s", absl::ToDoubleSeconds(t - start));
}

// A quoted text, cut to a readable length.
std::string Quote(const std::string& text) {
  if (text.size() <= 60) return absl::StrCat("\"", text, "\"");
  return absl::StrCat("\"", text.substr(0, 57), "...\"");
}

// Since when `member` has been in `observer`'s group without a break (the
// future when it is out at the end or was never in).
absl::Time InSince(const std::vector<ChatHistory::GroupChange>& changes,
                   const std::string& member) {
  absl::Time since = absl::InfiniteFuture();
  for (const auto& c : changes) {
    if (c.member != member) continue;
    if (!c.in) {
      since = absl::InfiniteFuture();
    } else if (since == absl::InfiniteFuture()) {
      since = c.at;
    }
  }
  return since;
}

struct Failure {
  absl::Time sent;  // the send involved (ordering of counterexamples)
  std::string receiver;
  std::string text;
};

}  // namespace

CheckResult CheckChat(const ChatHistory& h) {
  CheckResult result{.checker = "chat"};
  // Sends by sender, in time order.
  std::map<std::string, std::vector<const ChatHistory::Send*>> by_sender;
  for (const auto& s : h.sends) by_sender[s.sender].push_back(&s);
  for (auto& [sender, sends] : by_sender) {
    std::stable_sort(sends.begin(), sends.end(),
                     [](auto* a, auto* b) { return a->at < b->at; });
  }
  auto healthy_since = [&](const std::string& peer) {
    auto it = h.healthy_since.find(peer);
    return it == h.healthy_since.end() ? absl::InfiniteFuture() : it->second;
  };
  std::optional<Failure> worst;
  auto fail = [&](Failure f) {
    if (!worst || f.sent < worst->sent ||
        (f.sent == worst->sent && f.receiver < worst->receiver)) {
      worst = std::move(f);
    }
  };
  int64_t required_total = 0;
  int64_t shown_total = 0;
  static const std::vector<ChatHistory::GroupChange> kNoChanges;
  for (const auto& [sender, sends] : by_sender) {
    const std::vector<ChatHistory::GroupChange>& changes =
        h.groups.count(sender) ? h.groups.at(sender) : kNoChanges;
    std::unordered_map<std::string, std::vector<int>> by_text;
    std::vector<std::string> texts;
    for (int i = 0; i < static_cast<int>(sends.size()); ++i) {
      texts.push_back(Collapse(sends[i]->text));
      by_text[texts.back()].push_back(i);
    }
    const std::string prefix = absl::StrCat("<", sender, "> ");
    for (const auto& [receiver, since] : h.healthy_since) {
      if (receiver == sender) continue;
      auto theirs = h.groups.find(receiver);
      const absl::Time from = std::max(
          {since, healthy_since(sender), InSince(changes, receiver),
           InSince(theirs == h.groups.end() ? kNoChanges : theirs->second,
                   sender)});
      // Which send each of the receiver's lines from `sender` is.
      std::unordered_map<std::string, size_t> used;  // text -> sends used
      std::vector<int> shown(sends.size(), 0);
      std::vector<std::string> seen;  // the texts, for the counterexample
      int last = -1;
      auto it = h.views.find(receiver);
      if (it != h.views.end()) {
        for (const auto& line : it->second) {
          if (!absl::StartsWith(line.text, prefix)) continue;
          const std::string text = Collapse(line.text.substr(prefix.size()));
          if (seen.size() < 8) seen.push_back(Quote(text));
          auto candidates = by_text.find(text);
          size_t& n = used[text];
          if (candidates == by_text.end() || n >= candidates->second.size()) {
            // Shown more often than sent: blame the last send of that text.
            const int i =
                candidates == by_text.end() ? -1 : candidates->second.back();
            fail({.sent = i < 0 ? absl::InfinitePast() : sends[i]->at,
                  .receiver = receiver,
                  .text = absl::StrCat(
                      receiver, " showed ", Quote(text), " from ", sender,
                      i < 0 ? absl::StrCat(" at ", At(line.at, h.start),
                                           ", which ", sender, " never sent")
                            : absl::StrCat(" more often than ", sender,
                                           " sent it (",
                                           candidates->second.size(),
                                           " times): a duplicate at ",
                                           At(line.at, h.start)))});
            continue;
          }
          const int i = candidates->second[n++];
          ++shown[i];
          ++shown_total;
          if (i < last) {
            fail({.sent = sends[i]->at,
                  .receiver = receiver,
                  .text = absl::StrCat(
                      receiver, " showed message ", i + 1, " of ", sender, " ",
                      Quote(texts[i]), " after message ", last + 1, " ",
                      Quote(texts[last]), ": not in the order ", sender,
                      " sent them (", At(sends[last]->at, h.start), " before ",
                      At(sends[i]->at, h.start), ")")});
          }
          last = std::max(last, i);
        }
      }
      if (from == absl::InfiniteFuture()) continue;
      for (size_t i = 0; i < sends.size(); ++i) {
        if (sends[i]->at < from || sends[i]->unknown) continue;
        ++required_total;
        if (shown[i] == 1) continue;
        std::string saw =
            seen.empty()
                ? absl::StrCat("no message from ", sender)
                : absl::StrCat("from ", sender, ": ", absl::StrJoin(seen, ", "),
                               seen.size() == 8 ? ", ..." : "");
        fail(
            {.sent = sends[i]->at,
             .receiver = receiver,
             .text = absl::StrCat(
                 "message ", i + 1, " of ", sender, " ", Quote(texts[i]),
                 " (sent at ", At(sends[i]->at, h.start),
                 ") was never shown by ", receiver,
                 " (healthy, and each in the other's group, since ",
                 At(from, h.start), ")\n", receiver, " showed instead ", saw)});
      }
    }
  }
  const int64_t unknown = absl::c_count_if(
      h.sends, [](const ChatHistory::Send& s) { return s.unknown; });
  const int64_t sent = static_cast<int64_t>(h.sends.size()) - unknown;
  const std::string counts = absl::StrCat(
      sent, " messages sent",
      unknown > 0 ? absl::StrCat(" (and ", unknown, " of unknown outcome)")
                  : "",
      ", ", required_total, " deliveries required, ", shown_total, " shown, ",
      h.healthy_since.size(), " healthy peers");
  if (worst) {
    result.ok = false;
    result.summary = counts;
    result.counterexample = worst->text;
  } else if (!h.sends.empty() && required_total == 0) {
    result.ok = false;
    result.summary = absl::StrCat(
        counts,
        ": no delivery was required (no receiver was healthy and in "
        "a sender's group from a send to the end), nothing was checked");
  } else {
    result.summary = counts;
  }
  return result;
}

}  // namespace peerlab::harness::check
