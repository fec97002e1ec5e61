#include "test-harness/check/chat_check.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness::check {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1000);
absl::Time T(double s) { return kStart + absl::Seconds(s); }

// alice, bob and carol, all healthy and in each other's groups from 0 s.
ChatHistory Base() {
  ChatHistory h;
  h.start = kStart;
  for (const char* p : {"alice", "bob", "carol"}) {
    h.healthy_since[p] = T(0);
    for (const char* q : {"alice", "bob", "carol"}) {
      if (std::string(p) != q) h.groups[p].push_back({T(0.1), q, true});
    }
  }
  return h;
}

void Send(ChatHistory& h, const std::string& sender, const std::string& text,
          double at) {
  h.sends.push_back({sender, text, T(at)});
}
// A `msg` step that failed: the message may or may not have gone out.
void MaybeSend(ChatHistory& h, const std::string& sender,
               const std::string& text, double at) {
  h.sends.push_back({sender, text, T(at), /*unknown=*/true});
}
void Show(ChatHistory& h, const std::string& peer, const std::string& line,
          double at) {
  h.views[peer].push_back({line, T(at)});
}

// Every send delivered to both others, in order.
ChatHistory Delivered() {
  ChatHistory h = Base();
  Send(h, "alice", "a1", 1);
  Send(h, "alice", "a2", 2);
  Send(h, "bob", "b1", 1.5);
  for (const char* r : {"bob", "carol"}) {
    Show(h, r, "<alice> a1", 1.1);
    Show(h, r, "<alice> a2", 2.1);
  }
  Show(h, "alice", "<bob> b1", 1.6);
  Show(h, "carol", "<bob> b1", 1.6);
  return h;
}

TEST(ChatCheckTest, Passes) {
  CheckResult r = CheckChat(Delivered());
  EXPECT_TRUE(r.ok) << FormatCheckResult(r);
  EXPECT_EQ(r.summary,
            "3 messages sent, 6 deliveries required, 6 shown, 3 healthy peers");
}

TEST(ChatCheckTest, TableOfHistories) {
  struct Case {
    std::string name;
    std::function<void(ChatHistory&)> change;
    bool ok;
    std::string says;  // in the counterexample or summary
  };
  const Case cases[] = {
      {"other lines do not count",
       [](ChatHistory& h) {
         Show(h, "bob", "<joined> carol has joined", 0.2);
         Show(h, "bob", "<error> undelivered to x: y", 0.3);
       },
       true, ""},
      {"blank runs compare collapsed",
       [](ChatHistory& h) {
         Send(h, "carol", "hello   world", 3);
         Show(h, "alice", "<carol> hello world", 3.1);
         Show(h, "bob", "<carol> hello world", 3.1);
       },
       true, ""},
      {"missing at a healthy receiver",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
       },
       false,
       "message 2 of alice \"a2\" (sent at +2.000 s) was never shown by carol "
       "(healthy, and each in the other's group, since +0.100 s)\ncarol showed "
       "instead "
       "from alice: \"a1\""},
      {"a receiver unhealthy at the send need not show it",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
         h.healthy_since["carol"] = T(2.5);
       },
       true, ""},
      {"a receiver unhealthy at the end need not show it",
       [](ChatHistory& h) {
         h.views["carol"].clear();
         h.healthy_since.erase("carol");
       },
       true, ""},
      {"a sender unhealthy after the send is not held to it",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
         h.healthy_since["alice"] = T(3);
       },
       true, ""},
      {"a receiver out of the sender's group at the send",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
         h.groups["alice"].push_back({T(1.8), "carol", false});
         h.groups["alice"].push_back({T(2.2), "carol", true});
       },
       true, ""},
      {"a receiver that did not know the sender yet",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
         h.groups["carol"].push_back({T(1.5), "alice", false});
         h.groups["carol"].push_back({T(2.5), "alice", true});
       },
       true, ""},
      {"a receiver taken out of the group later",
       [](ChatHistory& h) {
         h.views["carol"].erase(h.views["carol"].begin() + 1);
         h.groups["alice"].push_back({T(5), "carol", false});
       },
       true, ""},
      {"a receiver never in the sender's group",
       [](ChatHistory& h) {
         h.groups["bob"].clear();
         h.views["alice"].clear();
         h.views["carol"].erase(h.views["carol"].begin() + 2);
       },
       true, ""},
      {"shown twice", [](ChatHistory& h) { Show(h, "bob", "<alice> a1", 2.5); },
       false,
       "bob showed \"a1\" from alice more often than alice sent it (1 times): "
       "a duplicate at +2.500 s"},
      {"shown twice by an unhealthy receiver is still a duplicate",
       [](ChatHistory& h) {
         Show(h, "bob", "<alice> a2", 2.5);
         h.healthy_since["bob"] = T(2.2);
       },
       false, "a duplicate"},
      {"out of order",
       [](ChatHistory& h) { std::swap(h.views["bob"][0], h.views["bob"][1]); },
       false,
       "bob showed message 1 of alice \"a1\" after message 2 \"a2\": not in "
       "the order alice sent them"},
      {"never sent", [](ChatHistory& h) { Show(h, "carol", "<bob> b9", 3); },
       false, "carol showed \"b9\" from bob at +3.000 s, which bob never sent"},
      {"the same text twice, both shown",
       [](ChatHistory& h) {
         Send(h, "bob", "b1", 4);
         Show(h, "alice", "<bob> b1", 4.1);
         Show(h, "carol", "<bob> b1", 4.1);
       },
       true, ""},
      {"the same text twice, one shown",
       [](ChatHistory& h) {
         Send(h, "bob", "b1", 4);
         Show(h, "alice", "<bob> b1", 4.1);
       },
       false,
       "message 2 of bob \"b1\" (sent at +4.000 s) was never shown by carol"},
      // A `msg` step that failed (the peer was killed during it) may still
      // have sent: its line may be shown, once and in order, but is not
      // required. Before: "carol showed "a3" from alice ..., which alice
      // never sent".
      {"a send of unknown outcome may be shown",
       [](ChatHistory& h) {
         MaybeSend(h, "alice", "a3", 3);
         Show(h, "carol", "<alice> a3", 3.1);
       },
       true, ""},
      {"a send of unknown outcome need not be shown",
       [](ChatHistory& h) { MaybeSend(h, "alice", "a3", 3); }, true,
       "3 messages sent (and 1 of unknown outcome)"},
      {"a send of unknown outcome shown twice is a duplicate",
       [](ChatHistory& h) {
         MaybeSend(h, "alice", "a3", 3);
         Show(h, "carol", "<alice> a3", 3.1);
         Show(h, "carol", "<alice> a3", 3.2);
       },
       false, "a duplicate"},
      {"a send of unknown outcome shown out of order",
       [](ChatHistory& h) {
         MaybeSend(h, "alice", "a0", 0.5);
         Show(h, "carol", "<alice> a0", 2.5);
       },
       false, "not in the order alice sent them"},
      {"only sends of unknown outcome check nothing",
       [](ChatHistory& h) {
         h.sends.clear();
         for (auto& [peer, lines] : h.views) lines.clear();
         MaybeSend(h, "alice", "a3", 3);
       },
       false, "no delivery was required"},
      {"nothing required is vacuous",
       [](ChatHistory& h) { h.healthy_since.clear(); }, false,
       "no delivery was required"},
      {"the smallest counterexample: the earliest send",
       [](ChatHistory& h) {
         h.views["carol"].clear();                          // misses a1, a2, b1
         h.views["bob"].erase(h.views["bob"].begin() + 1);  // misses a2
       },
       false,
       "message 1 of alice \"a1\" (sent at +1.000 s) was never shown by carol"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChatHistory h = Delivered();
    c.change(h);
    CheckResult r = CheckChat(h);
    EXPECT_EQ(r.ok, c.ok) << FormatCheckResult(r);
    if (!c.says.empty()) {
      EXPECT_THAT(r.counterexample + r.summary, HasSubstr(c.says))
          << FormatCheckResult(r);
    }
  }
}

// 20 peers, 30 s: each sends 50 messages that the 19 others show (19,000
// lines); one line missing is found.
TEST(ChatCheckTest, TwentyPeers) {
  ChatHistory h;
  h.start = kStart;
  std::vector<std::string> peers;
  for (int i = 1; i <= 20; ++i) peers.push_back(absl::StrCat("p", i));
  for (const auto& p : peers) {
    h.healthy_since[p] = T(0);
    for (const auto& q : peers) {
      if (p != q) h.groups[p].push_back({T(0), q, true});
    }
  }
  for (int m = 0; m < 50; ++m) {
    for (const auto& p : peers) {
      Send(h, p, absl::StrCat("m", m), 0.6 * m);
      for (const auto& q : peers) {
        if (p != q) Show(h, q, absl::StrCat("<", p, "> m", m), 0.6 * m + 0.1);
      }
    }
  }
  CheckResult r = CheckChat(h);
  EXPECT_TRUE(r.ok) << FormatCheckResult(r);
  h.views["p7"].erase(h.views["p7"].begin() + 500);
  r = CheckChat(h);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.counterexample, HasSubstr("never shown by p7"));
}

}  // namespace
}  // namespace peerlab::harness::check
