// The peer's event handlers (peer/handlers/): membership events and
// queries turned into HandlerEvents for the runner, and the `handler`
// command. PeerApp makes one; `--event-handler` specs are added at start.
//
//   handler add [FILTER=]PROGRAM [ARGS]   (FILTER as Serf's: member-join,
//                                          member-leave, member-failed,
//                                          member-update, member-reap,
//                                          user[:NAME], query[:NAME], *)
//   handler list
//   handler remove ID
//
// Membership events arrive on the membership loop (EventListener) and are
// only queued there. member-reap is accepted in filters; the membership
// reports no reaping yet, so it never fires.
#ifndef PEERLAB_PEER_APP_HANDLER_HOST_H_
#define PEERLAB_PEER_APP_HANDLER_HOST_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "peer/cli/command.h"
#include "peer/cluster/query_responder.h"
#include "peer/cluster/user_event.h"
#include "peer/handlers/handler_runner.h"
#include "peer/membership/member.h"

namespace peerlab::peer {

class HandlerHost : public membership::EventListener,
                    public cluster::QueryResponder,
                    public cluster::UserEventListener {
 public:
  // `self_name`: this member's name. `options` as HandlerRunner's
  // (self_name and self_tags are set here).
  HandlerHost(std::string self_name, handlers::HandlerRunner::Options options);
  ~HandlerHost() override;

  // Adds every spec ("[FILTER=]PROGRAM"); the first bad one's error.
  absl::Status AddAll(const std::vector<std::string>& specs);

  // The `handler` command.
  cli::Command Command();

  // Stops the runner: the programs running are killed, no event runs any
  // more. Call before the membership node goes (query responses need it).
  void Stop();

  handlers::HandlerRunner& runner() { return *runner_; }

  // EventListener (the membership loop): member-join, member-leave,
  // member-failed, member-update.
  void OnJoin(const membership::Member& m) override;
  void OnLeave(const membership::Member& m) override;
  void OnUpdate(const membership::Member& m) override;

  // QueryResponder (the membership loop): query and query:NAME handlers;
  // each one's standard output (exit 0) is a response.
  void OnQuery(const cluster::QueryRequest& query,
               cluster::QueryRespond respond) override;

  // A user event (from the cluster layer's listener).
  void OnUserEvent(const std::string& name, const std::string& payload,
                   uint64_t ltime);
  // UserEventListener (the membership loop): user and user:NAME handlers.
  void OnUserEvent(const cluster::UserEvent& event) override {
    OnUserEvent(event.name, event.payload, event.ltime);
  }

 private:
  void MemberEvent(const char* type, const membership::Member& m);
  std::map<std::string, std::string> SelfTags() const;

  const std::string self_name_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> self_tags_;  // guarded by mu_
  std::unique_ptr<handlers::HandlerRunner> runner_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_HANDLER_HOST_H_
