// The message diagram of a run (as Maelstrom's messages.svg): one column
// per peer, time going down, an arrow from a chat message's sender (when its
// `msg` step began) to every peer that showed it (when its messagesView
// showed "<SENDER> TEXT"); key/value writes (`broadcastadd`,
// `broadcastdel`) are marked on their writer's column (their arrival at the
// others is not observed). And the script that makes timeline.html's
// timeline zoomable. Pure functions of the RunSummary.
#ifndef PEERLAB_TEST_HARNESS_REPORT_MESSAGE_DIAGRAM_H_
#define PEERLAB_TEST_HARNESS_REPORT_MESSAGE_DIAGRAM_H_

#include <string>

#include "proto/harness/v1/coordinator.pb.h"

namespace peerlab::harness {

// At most this many arrows are drawn (the rest are counted in a note).
inline constexpr int kMaxDiagramArrows = 20000;

// An inline <svg id="messages"> (no network), with a <title> on each
// arrow and mark; "" when the run sent no message and wrote no key.
std::string MessageDiagramSvg(const ::harness::v1::RunSummary& summary);

// Inline JavaScript (no downloads) for the <svg id="timeline"> of
// TimelineHtml: the mouse wheel zooms the time axis around the pointer,
// dragging pans, a double click (or the Reset button) shows the whole run;
// marks keep their size and the axis ticks are redrawn. It reads the
// svg's data-label-w, data-plot-w and data-span-ms attributes.
const char* TimelineZoomScript();

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_REPORT_MESSAGE_DIAGRAM_H_
