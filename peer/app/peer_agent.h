// PeerAgent: the agent layer of a running peer (docs/agent.md). It owns
// the agent::AgentService, its backend over the peer's hosts
// (PeerAgentBackend: members, tags, keys, statistics from the
// MembershipHost) and the feeds that publish to Stream subscribers: every
// membership event (a listener on the MembershipHost) and every log line
// (a watcher of the peer's logView). The gRPC adapter
// (agent::AgentGrpcService) is made by PeerApp on its server.
//
// Thread safety: as AgentService; Close() must come before the hosts go.
#ifndef PEERLAB_PEER_APP_PEER_AGENT_H_
#define PEERLAB_PEER_APP_PEER_AGENT_H_

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "peer/agent/agent_service.h"
#include "peer/app/membership_host.h"
#include "peer/cli/view.h"
#include "peer/membership/member.h"

namespace peerlab::peer {

// A member as the agent shows it: status, tags from its metadata fields
// (member_meta.h), incarnation, generation, when its status changed.
::peer::v1::AgentMember ToAgentMember(const membership::Member& member);

// A log line of logView ("LEVEL [COMPONENT] TEXT", view_log_sink.h) as a
// record; nullopt for a line of another form.
std::optional<::peer::v1::AgentLogRecord> ParseLogLine(absl::string_view line);

// The AgentBackend over a MembershipHost. Calls after Close() answer
// Unavailable; Close waits for the calls running.
class PeerAgentBackend : public agent::AgentBackend {
 public:
  // `membership` must outlive Close().
  explicit PeerAgentBackend(MembershipHost* membership)
      : membership_(membership) {}

  absl::StatusOr<std::vector<::peer::v1::AgentMember>> Members() override;
  absl::StatusOr<::peer::v1::AgentMember> Self() override;
  absl::StatusOr<std::map<std::string, std::string>> UpdateTags(
      const std::map<std::string, std::string>& set,
      const std::vector<std::string>& remove) override;
  // MembershipHost::SendUserEvent (cluster/user_events.h).
  absl::StatusOr<uint64_t> SendEvent(const std::string& name,
                                     const std::string& payload,
                                     bool coalesce) override;
  // MembershipHost::StartQuery: returns once the query started (or was
  // refused: its status); each ack and reply reaches `on_item` from the
  // membership loop as the cluster layer takes it, then the summary.
  absl::StatusOr<uint64_t> StartQuery(
      const ::peer::v1::AgentQueryRequest& request,
      std::function<void(::peer::v1::AgentQueryResponse)> on_item) override;
  // MembershipHost::FinishQuery (nothing after Close).
  void CancelQuery(uint64_t handle) override;
  // MembershipHost::ForceLeave.
  absl::Status ForceLeave(const std::string& name, bool prune) override;
  absl::StatusOr<std::vector<::peer::v1::AgentStat>> Stats() override;
  absl::StatusOr<::peer::v1::AgentCoordinateResponse> Coordinates(
      const std::vector<std::string>& nodes) override;
  absl::StatusOr<::peer::v1::AgentKeysResponse> Keys(
      ::peer::v1::AgentKeysRequest::Op op, const std::string& key,
      absl::Duration timeout) override;

  // After it, every call answers Unavailable. Waits for running calls.
  void Close();

 private:
  // The host while open (the shared lock held by the caller), else null.
  MembershipHost* Host();

  std::shared_mutex mu_;
  MembershipHost* membership_;  // guarded by mu_; null once closed
};

class PeerAgent {
 public:
  // `membership` and `views` must outlive this object (or Close()).
  PeerAgent(MembershipHost* membership, cli::ViewHub* views);
  // Close()s.
  ~PeerAgent();

  agent::AgentService& service() { return service_; }

  // Ends the streams, stops the feeds and waits for the backend's calls;
  // call before the hosts are destroyed. Idempotent.
  void Close();

 private:
  class MemberFeed;
  class UserEventFeed;  // publishes the host's user events

  cli::ViewHub* const views_;
  PeerAgentBackend backend_;
  agent::AgentService service_;
  std::unique_ptr<MemberFeed> member_feed_;
  std::unique_ptr<UserEventFeed> user_event_feed_;
  int log_watch_ = 0;  // ViewHub handle; 0 when closed
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_PEER_AGENT_H_
