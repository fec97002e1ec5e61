// The DelegateMux on the simulator: the key/value store on channel 0 still
// converges (by gossip and, for a late joiner, by push/pull) while another
// component shares the node's broadcasts and push/pull state on channel 1.
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {
namespace {

// A second component: a grow-only set of strings, spread by broadcasts
// (keyed like the store's, to check that keys stay per channel) and by its
// push/pull state.
struct GrowSet : Delegate {
  BroadcastFn send;
  std::set<std::string> items;
  void Add(const std::string& item) {
    items.insert(item);
    send(item, "k");  // the same key the store uses below
  }
  void OnUserMessage(const std::string& payload) override {
    if (items.insert(payload).second) send(payload, "");
  }
  std::string LocalState(bool) override {
    std::string out;
    for (const auto& i : items) out += i + "\n";
    return out;
  }
  void MergeRemoteState(const std::string& state, bool) override {
    size_t start = 0;
    for (size_t nl; (nl = state.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      items.insert(state.substr(start, nl - start));
    }
  }
};

TEST(DelegateMuxSimTest, KeyValueStoreConvergesBesideAnotherChannel) {
  const uint64_t seed = sim::SimSeed(61);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 8;
  std::map<int, std::unique_ptr<GrowSet>> sets;
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.loss = 0.05;
  o.with_kv = true;
  o.channels = [&](int i, DelegateMux& mux, runtime::Scheduler*) {
    auto set = std::make_unique<GrowSet>();
    set->send = mux.SenderFor(1);
    ASSERT_TRUE(mux.Register(1, set.get()).ok());
    sets[i] = std::move(set);
  };
  SimCluster c(o);
  const int late = n - 1;
  for (int i = 0; i < late; ++i) {
    if (i == 0) {
      c.Start(0);
    } else {
      c.StartAndJoin(i, 0);
    }
  }
  const absl::Duration bound =
      PushPullScale(c.node(0).config().push_pull_interval, n) * 2;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < late; ++i) {
          if (c.node(i).NumAlive() != late) return false;
        }
        return true;
      },
      bound));
  for (int i = 0; i < late; ++i) {
    c.net().scheduler(i)->Post([&, i] {
      EXPECT_TRUE(c.kv(i)->Set("k", absl::StrCat("from", i)).ok());
      EXPECT_TRUE(c.kv(i)->Set(absl::StrCat("k", i), "v").ok());
      sets[i]->Add(absl::StrCat("item", i));
    });
  }
  auto same = [&](int upto) {
    for (int i = 1; i < upto; ++i) {
      if (c.kv(i)->Items() != c.kv(0)->Items()) return false;
      if (sets[i]->items != sets[0]->items) return false;
    }
    return c.kv(0)->Items().size() == static_cast<size_t>(late + 1) &&
           sets[0]->items.size() == static_cast<size_t>(late);
  };
  ASSERT_TRUE(c.RunUntil([&] { return same(late); }, bound));
  // A member that joins afterwards gets both through the join's push/pull.
  c.StartAndJoin(late, 0);
  ASSERT_TRUE(c.RunUntil([&] { return same(n); }, bound));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(c.mux(i)->stats().unknown_channel, 0u) << i;
    EXPECT_EQ(c.mux(i)->stats().bad_states, 0u) << i;
    EXPECT_GT(c.mux(i)->stats().delivered + (i == late ? 1 : 0), 0u) << i;
  }
}

}  // namespace
}  // namespace peerlab::membership
