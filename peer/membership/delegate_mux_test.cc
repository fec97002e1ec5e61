#include "peer/membership/delegate_mux.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

// Records what reaches it; its state is `state`.
struct Recorder : Delegate {
  std::vector<std::string> messages;
  std::vector<std::pair<std::string, bool>> merged;
  std::string state;
  void OnUserMessage(const std::string& payload) override {
    messages.push_back(payload);
  }
  std::string LocalState(bool) override { return state; }
  void MergeRemoteState(const std::string& s, bool join) override {
    merged.emplace_back(s, join);
  }
};

// Takes direct messages, answering with `answer`.
struct DirectTaker : Recorder {
  std::vector<std::string> direct;
  absl::Status answer = absl::OkStatus();
  absl::Status OnDirectMessage(const DirectMessage& m) override {
    direct.push_back(m.payload);
    return answer;
  }
};

struct Sent {
  std::string payload, key;
};

TEST(DelegateMuxTest, RegisterRefusesTakenChannelsAndNull) {
  DelegateMux mux([](std::string, const std::string&) {});
  Recorder a, b;
  EXPECT_TRUE(mux.Register(0, &a).ok());
  EXPECT_EQ(mux.Register(0, &b).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(mux.Register(0, &b).message(), "channel 0 is taken");
  EXPECT_EQ(mux.Register(1, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  mux.Unregister(0);
  EXPECT_FALSE(mux.registered(0));
  EXPECT_TRUE(mux.Register(0, &b).ok());
}

TEST(DelegateMuxTest, SendersPrefixTheChannelAndKeepKeysApart) {
  std::vector<Sent> sent;
  DelegateMux mux([&](std::string payload, const std::string& key) {
    sent.push_back({std::move(payload), key});
  });
  mux.SenderFor(0)("kv-body", "k");
  mux.SenderFor(7)("ev-body", "k");
  mux.SenderFor(255)("x", "");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].payload, std::string("\x00kv-body", 8));
  EXPECT_EQ(sent[0].key, "0:k");
  EXPECT_EQ(sent[1].payload,
            "\x07"
            "ev-body");
  EXPECT_EQ(sent[1].key, "7:k");  // never replaces channel 0's "k"
  EXPECT_EQ(sent[2].payload,
            "\xff"
            "x");
  EXPECT_EQ(sent[2].key, "");  // unkeyed stays unkeyed
}

TEST(DelegateMuxTest, RoutesBroadcastsAndCountsWhatNobodyTakes) {
  DelegateMux mux([](std::string, const std::string&) {});
  Recorder kv, events;
  ASSERT_TRUE(mux.Register(kKvChannel, &kv).ok());
  ASSERT_TRUE(mux.Register(kUserEventChannel, &events).ok());
  struct Case {
    std::string payload;
    std::vector<std::string> kv, events;
    DelegateMux::Stats stats;
  };
  const std::vector<Case> cases = {
      {std::string("\x00"
                   "a",
                   2),
       {"a"},
       {},
       {.delivered = 1}},
      {"\x01"
       "b",
       {},
       {"b"},
       {.delivered = 1}},
      {std::string("\x00", 1), {""}, {}, {.delivered = 1}},  // empty body
      {"\x09"
       "c",
       {},
       {},
       {.unknown_channel = 1}},
      {"", {}, {}, {.empty_payloads = 1}},
      // A version-3 node's raw KvState (its first byte is a protobuf tag,
      // 0x0a = channel 10): nobody there, dropped and counted.
      {"\x0a\x03"
       "k=v",
       {},
       {},
       {.unknown_channel = 1}},
  };
  for (const Case& c : cases) {
    kv.messages.clear();
    events.messages.clear();
    const DelegateMux::Stats before = mux.stats();
    mux.OnUserMessage(c.payload);
    EXPECT_EQ(kv.messages, c.kv) << testing::PrintToString(c.payload);
    EXPECT_EQ(events.messages, c.events) << testing::PrintToString(c.payload);
    EXPECT_EQ(mux.stats().delivered - before.delivered, c.stats.delivered);
    EXPECT_EQ(mux.stats().unknown_channel - before.unknown_channel,
              c.stats.unknown_channel);
    EXPECT_EQ(mux.stats().empty_payloads - before.empty_payloads,
              c.stats.empty_payloads);
  }
}

TEST(DelegateMuxTest, StateRoundTripsPerChannel) {
  DelegateMux a([](std::string, const std::string&) {});
  DelegateMux b([](std::string, const std::string&) {});
  Recorder a_kv, a_ev, b_kv, b_ev, a_only;
  a_kv.state = "kv-state";
  a_ev.state = std::string(300, 'e');  // a two-byte length
  a_only.state = "only-a";
  ASSERT_TRUE(a.Register(0, &a_kv).ok());
  ASSERT_TRUE(a.Register(1, &a_ev).ok());
  ASSERT_TRUE(a.Register(5, &a_only).ok());
  ASSERT_TRUE(b.Register(0, &b_kv).ok());
  ASSERT_TRUE(b.Register(1, &b_ev).ok());
  b.MergeRemoteState(a.LocalState(true), true);
  ASSERT_EQ(b_kv.merged.size(), 1u);
  EXPECT_EQ(b_kv.merged[0].first, "kv-state");
  EXPECT_TRUE(b_kv.merged[0].second);
  ASSERT_EQ(b_ev.merged.size(), 1u);
  EXPECT_EQ(b_ev.merged[0].first, a_ev.state);
  EXPECT_EQ(b.stats().unknown_state_slices, 1u);  // channel 5
  // An empty slice is left out; an empty state merges nothing.
  Recorder empty;
  DelegateMux c([](std::string, const std::string&) {});
  ASSERT_TRUE(c.Register(0, &empty).ok());
  EXPECT_EQ(c.LocalState(false), "");
  b.MergeRemoteState("", false);
  EXPECT_EQ(b_kv.merged.size(), 1u);
  EXPECT_EQ(b.stats().bad_states, 0u);
}

TEST(DelegateMuxTest, MalformedStatesAreRefusedWithTheOffset) {
  struct Case {
    std::string state, error;
  };
  const std::vector<Case> cases = {
      {std::string("\x00", 1), "user state: truncated length at offset 0"},
      {std::string("\x00\x05"
                   "ab",
                   4),
       "user state: slice of channel 0 at offset 0 claims 5 bytes, 2 left "
       "(at most 16777216)"},
      {std::string("\x01\x01"
                   "a\x01\x01"
                   "b",
                   6),
       "user state: channel 1 repeats at offset 3"},
      {std::string("\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
       "user state: truncated length at offset 0"},
      {std::string("\x02\x80\x80\x80\x10", 5),
       "user state: slice of channel 2 at offset 0 claims 33554432 bytes, 0 "
       "left (at most 16777216)"},
  };
  for (const Case& c : cases) {
    auto r = DelegateMux::DecodeState(c.state);
    ASSERT_FALSE(r.ok()) << testing::PrintToString(c.state);
    EXPECT_EQ(r.status().message(), c.error);
  }
  // More than kMaxMuxStates slices cannot be written with distinct
  // one-byte channels, so 256 is the most a state can hold.
  std::map<uint8_t, std::string> all;
  for (int ch = 0; ch < 256; ++ch) all[ch] = std::string(1, 'x');
  auto r = DelegateMux::DecodeState(DelegateMux::EncodeState(all));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 256u);

  DelegateMux mux([](std::string, const std::string&) {});
  Recorder kv;
  ASSERT_TRUE(mux.Register(0, &kv).ok());
  mux.MergeRemoteState(cases[1].state, false);
  EXPECT_EQ(mux.stats().bad_states, 1u);
  EXPECT_TRUE(kv.merged.empty());
}

TEST(DelegateMuxTest, RoutesDirectMessagesByChannel) {
  DelegateMux mux([](std::string, const std::string&) {});
  DirectTaker queries;
  Recorder kv;  // takes no direct messages (Delegate's default)
  queries.answer = absl::PermissionDeniedError("not you");
  ASSERT_TRUE(mux.Register(kQueryChannel, &queries).ok());
  ASSERT_TRUE(mux.Register(kKvChannel, &kv).ok());
  struct Case {
    uint32_t channel;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {kQueryChannel, absl::StatusCode::kPermissionDenied, "not you"},
      {kKvChannel, absl::StatusCode::kUnimplemented,
       "this member takes no direct messages on channel 0"},
      {9, absl::StatusCode::kNotFound, "no component on channel 9"},
      {256 + kQueryChannel, absl::StatusCode::kNotFound,
       "no component on channel 258"},
  };
  for (const Case& c : cases) {
    DirectMessage m;
    m.from = "bob";
    m.channel = c.channel;
    m.payload = "p";
    const absl::Status s = mux.OnDirectMessage(m);
    EXPECT_EQ(s.code(), c.code) << c.channel;
    EXPECT_EQ(s.message(), c.message);
  }
  EXPECT_EQ(queries.direct, std::vector<std::string>{"p"});
  EXPECT_EQ(mux.stats().direct_delivered, 2u);
  EXPECT_EQ(mux.stats().direct_unknown_channel, 2u);
}

}  // namespace
}  // namespace peerlab::membership
