// Scheduler: the only view of time and of its thread that protocol code
// (membership, chat) has.
//
// All protocol code runs as tasks of one scheduler, one task at a time, so it
// needs no locks. Implementations: EventLoop (event_loop.h: a real thread
// and the real clock) and, in virtual time, the simulator's per-node
// scheduler (peer/membership/sim/sim_network.h), which runs thousands of
// nodes in one thread.
#ifndef PEERLAB_PEER_RUNTIME_SCHEDULER_H_
#define PEERLAB_PEER_RUNTIME_SCHEDULER_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace peerlab::runtime {

class Scheduler {
 public:
  using TimerId = uint64_t;
  using Task = std::function<void()>;

  virtual ~Scheduler() = default;

  // The current time. REQUIRES: called from a task of this scheduler.
  virtual absl::Time Now() const = 0;

  // Runs `task` once `delay` has passed (at once for a delay <= 0, but never
  // inside this call). Returns an id for Cancel(). REQUIRES: called from a
  // task of this scheduler.
  virtual TimerId After(absl::Duration delay, Task task) = 0;

  // Cancels a timer that has not run yet; no-op otherwise. REQUIRES: called
  // from a task of this scheduler.
  virtual void Cancel(TimerId id) = 0;

  // Runs `task` as soon as possible. Thread-safe: the only method other
  // threads (sockets, gRPC, the command line) may call.
  virtual void Post(Task task) = 0;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_SCHEDULER_H_
