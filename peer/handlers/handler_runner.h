// Event handlers (`--event-handler [FILTER=]PROGRAM`, `handler add|list|
// remove`): the table of handlers and the runner of their programs.
//
// Dispatch never blocks its caller (the membership loop): it matches the
// event against the handlers and queues one job per match. At most
// `max_concurrent` programs run at once, on the runner's own threads; at
// most `max_queue` jobs wait, and a job beyond that is dropped (counted,
// logged). Each program runs without a shell (run_program.h) with a time
// limit; a failure (cannot start, non-zero exit, killed at the limit) is
// logged with the start of its standard error. For a query, the program's
// standard output is the response when it exits 0 (and fits
// max_output).
//
// The program's environment: the peer's own, plus PEERLAB_EVENT (the event
// type), PEERLAB_SELF_NAME, PEERLAB_TAG_<KEY> for each of this member's
// tags (KEY upper-cased, other characters than letters and digits as _),
// and for a user event PEERLAB_USER_EVENT and PEERLAB_USER_LTIME, for a
// query PEERLAB_QUERY_NAME and PEERLAB_QUERY_LTIME. Standard input: the
// members of a member event, one a line ("NAME\tADDRESS\tSTATUS\tTAGS",
// TAGS as k=v,k=v), or the payload of a user event or query.
#ifndef PEERLAB_PEER_HANDLERS_HANDLER_RUNNER_H_
#define PEERLAB_PEER_HANDLERS_HANDLER_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/handlers/event_filter.h"
#include "peer/handlers/run_program.h"
#include "peer/runtime/logger.h"

namespace peerlab::handlers {

// One event for the handlers.
struct HandlerEvent {
  std::string type;  // kMemberJoin, ..., kUser, kQuery
  std::string name;  // the user event's or query's name; "" otherwise
  uint64_t ltime = 0;
  std::string input;  // standard input: member lines or the payload
  // Queries: called (on a runner thread) with the standard output of each
  // matching program that exits 0. Empty otherwise.
  std::function<void(std::string)> respond;
};

// A member as a handler's standard input line (no newline): name,
// address, status and tags separated by tabs; tabs and newlines inside
// replaced by spaces.
std::string MemberLine(const std::string& name, const std::string& address,
                       const std::string& status,
                       const std::map<std::string, std::string>& tags);

// The PEERLAB_* variables of `event` for a member named `self_name` with
// `self_tags`. Pure.
std::vector<std::string> HandlerEnvironment(
    const HandlerEvent& event, const std::string& self_name,
    const std::map<std::string, std::string>& self_tags);

class HandlerRunner {
 public:
  struct Options {
    int max_concurrent = 4;  // programs running at once
    size_t max_queue = 256;  // jobs waiting; more are dropped
    absl::Duration timeout = absl::Seconds(10);  // per program
    size_t max_output = 64 * 1024;               // a query's response
    size_t max_handlers = 64;                    // handlers in the table
    // This member's name and tags, read at each Dispatch (on the caller's
    // thread: must not block).
    std::string self_name;
    std::function<std::map<std::string, std::string>()> self_tags;
    // Where failures and drops are logged (component "handlers"; not owned).
    // nullptr: runtime::DefaultLogger().
    runtime::Logger* logger = nullptr;
  };

  struct Handler {
    uint64_t id = 0;
    std::string filter;   // as EventFilter::text()
    std::string program;  // as given
  };

  // Counters (monotonic).
  struct Stats {
    uint64_t dispatched = 0;  // jobs queued
    uint64_t succeeded = 0;   // exit 0
    uint64_t failed = 0;      // could not start, non-zero exit, signal
    uint64_t timed_out = 0;   // killed at the time limit
    uint64_t dropped = 0;     // queue full
    uint64_t responses = 0;   // query responses handed back
  };

  explicit HandlerRunner(Options options);
  // Stop().
  ~HandlerRunner();
  // Stops taking jobs, drops the queued ones, kills the programs still
  // running (no response, no log) and joins the threads. Idempotent;
  // thread-safe (not from a runner thread).
  void Stop();
  HandlerRunner(const HandlerRunner&) = delete;
  HandlerRunner& operator=(const HandlerRunner&) = delete;

  // Adds a handler from "[FILTER=]PROGRAM" and returns its id (from 1).
  // InvalidArgument for a bad spec; ResourceExhausted past max_handlers.
  // Thread-safe.
  absl::StatusOr<uint64_t> Add(const std::string& spec);
  // NotFound for an unknown id. Jobs queued for it still run.
  absl::Status Remove(uint64_t id);
  std::vector<Handler> List() const;

  // Queues a job for every handler whose filter passes `event`. Never
  // blocks. Thread-safe.
  void Dispatch(const HandlerEvent& event);

  Stats stats() const;
  // Blocks until no job is queued or running, at most `timeout` (tests).
  bool WaitIdle(absl::Duration timeout);

 private:
  struct Entry {
    uint64_t id;
    HandlerSpec spec;
  };
  struct Job {
    uint64_t handler_id;
    std::string what;  // "handler 2 (member-join): PROGRAM"
    ProgramRun run;
    std::function<void(std::string)> respond;
  };
  void Work();
  void Finish(const Job& job, const ProgramResult& result);

  const Options options_;
  runtime::ComponentLog log_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::vector<Entry> handlers_;  // guarded by mu_
  uint64_t next_id_ = 1;         // guarded by mu_
  std::deque<Job> queue_;        // guarded by mu_
  int running_ = 0;              // guarded by mu_
  Stats stats_;                  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace peerlab::handlers

#endif  // PEERLAB_PEER_HANDLERS_HANDLER_RUNNER_H_
