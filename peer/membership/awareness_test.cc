#include "peer/membership/awareness.h"

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

TEST(AwarenessTest, ClampsAndScales) {
  // memberlist TestAwareness: max 8, deltas and expected scores.
  Awareness a(8);
  struct Step {
    int delta, score;
    absl::Duration timeout;
  };
  const absl::Duration s = absl::Seconds(1);
  for (const Step& step : std::vector<Step>{{0, 0, 1 * s},
                                            {-1, 0, 1 * s},
                                            {-10, 0, 1 * s},
                                            {1, 1, 2 * s},
                                            {-1, 0, 1 * s},
                                            {10, 7, 8 * s},
                                            {-1, 6, 7 * s},
                                            {-1, 5, 6 * s},
                                            {-1, 4, 5 * s},
                                            {-1, 3, 4 * s},
                                            {-1, 2, 3 * s},
                                            {-1, 1, 2 * s},
                                            {-1, 0, 1 * s},
                                            {-1, 0, 1 * s}}) {
    a.ApplyDelta(step.delta);
    EXPECT_EQ(a.score(), step.score);
    EXPECT_EQ(a.Scale(s), step.timeout);
  }
}

TEST(AwarenessTest, DisabledStaysZero) {
  Awareness a(8, /*enabled=*/false);
  a.ApplyDelta(5);
  EXPECT_EQ(a.score(), 0);
  EXPECT_EQ(a.Scale(absl::Seconds(1)), absl::Seconds(1));
}

}  // namespace
}  // namespace peerlab::membership
