#include "peer/app/member_event_text.h"

#include "absl/strings/str_cat.h"

namespace peerlab::peer {

using ::peer::v1::MemberEvent;

std::string MemberEventText(const MemberEvent& event) {
  const char* what = "changed";
  switch (event.kind()) {
    case MemberEvent::JOINED:
      what = "joined";
      break;
    case MemberEvent::LEFT:
      what = "left";
      break;
    case MemberEvent::FAILED:
      what = "failed";
      break;
    case MemberEvent::SUSPECT:
      what = "is suspect";
      break;
    case MemberEvent::ALIVE:
      what = "is alive again";
      break;
    case MemberEvent::UPDATED:
      what = "updated";
      break;
    default:
      break;
  }
  return absl::StrCat("member ", event.name(), " ", what, " (incarnation ",
                      event.incarnation(), ")");
}

}  // namespace peerlab::peer
