// FaultBroker: the faults a run asks of its client (the lab that owns the
// peers' processes or network) and the client's answers.
//
// The run opens a fault (Open), tells the client through a FaultRequest
// event, and waits (Await); the client answers through ResolveFault. A
// fault needs a watching client: with none, Open fails at once, and when
// the last one leaves, faults waiting for an answer fail. Thread-safe; the
// broker never calls back into the run, so a run may hold its own lock
// while it calls Open (lock order: run, then broker).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_FAULT_BROKER_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_FAULT_BROKER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace peerlab::harness {

class FaultBroker {
 public:
  // How long a client may take to carry out a fault.
  static constexpr absl::Duration kFaultTimeout = absl::Seconds(60);

  // `clock` (not owned) must outlive the broker.
  explicit FaultBroker(const Clock* clock) : clock_(clock) {}

  // Clients watching the run.
  void AddWatcher();
  void RemoveWatcher();

  // Waits until a client watches the run, unless one already did (one that
  // left does not come back: faults then fail at once), for at most
  // `timeout`. A client starts watching just after it started the run, so a
  // script whose first step is a fault (`start` of a late joiner) waits for
  // it here. Returns whether a client watches now.
  bool AwaitFirstWatcher(absl::Duration timeout);

  // A new fault waiting for an answer: its id. FailedPrecondition when no
  // client watches the run.
  absl::StatusOr<uint64_t> Open();

  // The client's answer to fault `id`. NotFound for an unknown or already
  // answered fault.
  absl::Status Resolve(uint64_t id, bool ok, const std::string& message);

  // Waits up to kFaultTimeout for the answer to fault `id` (from Open) and
  // forgets the fault. OK when the client carried it out; otherwise the
  // failure in one line: the client's message, "run cancelled", "the client
  // carrying out faults stopped watching", or the timeout.
  absl::Status Await(uint64_t id);

  // Fails every fault waiting for an answer ("run cancelled") and every
  // later wait ("cancelled: REASON"). Idempotent.
  void Cancel(const std::string& reason);

 private:
  struct Pending {
    bool done = false;
    bool ok = false;
    std::string message;
  };

  const Clock* const clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  int watchers_ = 0;
  bool ever_watched_ = false;
  uint64_t next_id_ = 0;
  std::map<uint64_t, Pending> pending_;
  std::optional<std::string> cancel_reason_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_FAULT_BROKER_H_
