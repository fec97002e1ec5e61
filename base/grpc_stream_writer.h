// The one way a peerlab gRPC service writes a server stream from a thread:
// PeerControl's WatchViews and the Agent's Stream and Query
// (peer/control/control_service.cc, peer/agent/agent_grpc.cc) use it.
//
//   StreamWriter<Msg>  a ServerWriteReactor whose messages come from a
//                      thread of its own (Run): Produce() writes with
//                      Write(), one write in flight, waited for; gRPC's
//                      callbacks only record what happened and wake it.
//                      End() (the service's end) and a client's cancel ask
//                      Produce to stop; a write still pending a grace
//                      period after that is cut short by cancelling the
//                      call. The thread deletes the reactor once gRPC is
//                      done with it (OnDone).
//   RefusedWriter<Msg> a stream refused before it started.
//   ServiceThreads     the threads a service starts (one per stream or
//                      blocking call), joined by its destructor.
//
// Thread safety: as each class says.
#ifndef PEERLAB_BASE_GRPC_STREAM_WRITER_H_
#define PEERLAB_BASE_GRPC_STREAM_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace peerlab {

// Threads started by Spawn, joined by Join (and the destructor). The
// threads that ended are joined at the next Spawn, so a long-lived service
// keeps none. Thread-safe.
class ServiceThreads {
 public:
  ServiceThreads() = default;
  ServiceThreads(const ServiceThreads&) = delete;
  ServiceThreads& operator=(const ServiceThreads&) = delete;
  ~ServiceThreads() { Join(); }

  // Runs `body` on a new thread.
  void Spawn(std::function<void()> body) {
    std::vector<std::thread> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished.swap(finished_);
      const uint64_t id = next_id_++;
      // The thread takes mu_ only after this block has stored it.
      threads_.emplace(id, std::thread([this, id, body = std::move(body)] {
                         body();
                         std::lock_guard<std::mutex> lock(mu_);
                         auto it = threads_.find(id);
                         finished_.push_back(std::move(it->second));
                         threads_.erase(it);
                         cv_.notify_all();
                       }));
    }
    for (std::thread& t : finished) t.join();
  }

  // Waits until every thread has ended, and joins them.
  void Join() {
    std::vector<std::thread> finished;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return threads_.empty(); });
      finished.swap(finished_);
    }
    for (std::thread& t : finished) t.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 1;                     // guarded by mu_
  std::map<uint64_t, std::thread> threads_;  // guarded by mu_
  std::vector<std::thread> finished_;        // guarded by mu_
};

// A stream refused before it started: finishes at once, deletes itself.
template <typename Msg>
class RefusedWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  explicit RefusedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Msg>
class StreamWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  // `grace`: how long a write may stay pending once the stream is asked to
  // end before the call is cancelled.
  StreamWriter(grpc::CallbackServerContext* context,
               absl::Duration grace = absl::Seconds(1))
      : context_(context), grace_(grace) {}

  // The stream's thread: Produce(), Finish with its status, wait for
  // OnDone, OnFinished(), then delete `self`.
  static void Run(StreamWriter* self) {
    grpc::Status status = self->Produce();
    self->Finish(status);
    {
      std::unique_lock<std::mutex> lock(self->mu_);
      self->cv_.wait(lock, [self] { return self->done_; });
    }
    self->OnFinished();
    delete self;
  }

  // Asks the stream to end (the service's end, the client's cancel):
  // OnEnd() runs once, so that Produce() stops; a pending write is cut
  // short after the grace period. Thread-safe; does not call into gRPC.
  void End() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (end_requested_) return;
      end_requested_ = true;
      cv_.notify_all();
    }
    OnEnd();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    write_ok_ = ok;
    cv_.notify_all();
  }
  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    End();
  }
  void OnDone() override {
    // Notified under the lock: Run() deletes the reactor as soon as it can
    // take mu_.
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

 protected:
  ~StreamWriter() override = default;

  // The stream's body, on its thread: writes with Write() until it is
  // over; the status to finish the call with.
  virtual grpc::Status Produce() = 0;
  // Called once by End() (any thread; must not block): wake Produce().
  virtual void OnEnd() {}
  // Whether the stream is ending for a reason of the subclass's own (e.g.
  // its queue failed): a pending write is then cut short after the grace
  // period too. Polled from Write(); must not block.
  virtual bool Ending() { return false; }
  // After gRPC is done with the call, before the reactor is deleted.
  virtual void OnFinished() {}

  // One write, waited for; false when it failed (the call cancelled or
  // broken). Cut short by cancelling the call `grace` after the stream was
  // asked to end.
  bool Write(Msg message) {
    current_ = std::move(message);
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = true;
    }
    this->StartWrite(&current_);
    std::unique_lock<std::mutex> lock(mu_);
    absl::Time give_up = absl::InfiniteFuture();
    bool cancel_sent = false;
    while (writing_) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(kPoll));
      if (!writing_ || cancel_sent) continue;
      lock.unlock();
      const bool ending = Ending();
      lock.lock();
      if (!end_requested_ && !ending) continue;
      const absl::Time now = absl::Now();
      if (give_up == absl::InfiniteFuture()) give_up = now + grace_;
      if (now >= give_up) {
        cancel_sent = true;
        lock.unlock();
        context_->TryCancel();  // the write then fails
        lock.lock();
      }
    }
    return write_ok_;
  }

  bool end_requested() {
    std::lock_guard<std::mutex> lock(mu_);
    return end_requested_;
  }
  // The client cancelled (or the call broke).
  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  static constexpr absl::Duration kPoll = absl::Milliseconds(100);

  grpc::CallbackServerContext* const context_;
  const absl::Duration grace_;
  Msg current_;  // the message in flight (written by Run's thread only)

  std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;        // guarded by mu_
  bool write_ok_ = true;        // guarded by mu_
  bool end_requested_ = false;  // guarded by mu_
  bool cancelled_ = false;      // guarded by mu_
  bool done_ = false;           // guarded by mu_
};

}  // namespace peerlab

#endif  // PEERLAB_BASE_GRPC_STREAM_WRITER_H_
