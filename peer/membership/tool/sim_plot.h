// The picture of a peerlab-sim run (`--plot FILE.svg`): hand-written SVG,
// no dependencies. Three panels over virtual time, fault windows shaded
// grey in each:
//   1. views: how many members an average healthy member holds alive,
//      suspect, and removed (dead, left or quarantined), stacked;
//   2. agreement: the members on whose liveness the healthy members
//      disagree, and each agreement sample as a green (agree) or red tick;
//   3. traffic: bytes/s per member sent (mean and max) and received (mean).
// Each series is an element with an id: "alive", "suspect", "removed",
// "disagreeing", "agree", "disagree", "sent-mean", "sent-max",
// "received-mean"; fault windows are <rect class="fault">.
//
// Thread safety: a pure function.
#ifndef PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_PLOT_H_
#define PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_PLOT_H_

#include <string>

#include "peer/membership/tool/sim_runner.h"

namespace peerlab::membership::tool {

// The SVG document (UTF-8, with an XML declaration) for `result`. A run
// without samples gives the frame and the title only. At most about 2,000
// points per series (longer runs are thinned evenly).
std::string RenderSvg(const SimRunResult& result);

}  // namespace peerlab::membership::tool

#endif  // PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_PLOT_H_
