#include "peer/runtime/event_loop.h"

#include <pthread.h>

#include "absl/time/clock.h"

namespace peerlab::runtime {

namespace {

// Which loop the current thread runs, if any.
thread_local const EventLoop* current_loop = nullptr;

std::chrono::steady_clock::duration ToSteady(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return std::chrono::steady_clock::duration(0);
  // Far-future timers are capped (about 292 years would overflow).
  if (d > absl::Hours(24 * 365 * 100)) d = absl::Hours(24 * 365 * 100);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

}  // namespace

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

absl::Time EventLoop::Now() const { return absl::Now(); }

Scheduler::TimerId EventLoop::After(absl::Duration delay, Task task) {
  const SteadyTime when = std::chrono::steady_clock::now() + ToSteady(delay);
  std::lock_guard<std::mutex> lock(mu_);
  const TimerId id = next_timer_id_++;
  if (stopping_) return id;  // dropped; `task` is destroyed on return
  timers_.emplace(id, std::move(task));
  const bool earliest = timer_heap_.empty() || when < timer_heap_.top().when;
  timer_heap_.push(TimerEntry{when, id});
  if (earliest && !InLoopThread()) wake_.notify_one();
  return id;
}

void EventLoop::Cancel(TimerId id) {
  Task cancelled;  // destroyed outside the lock: it may own anything
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  cancelled = std::move(it->second);
  timers_.erase(it);
}

void EventLoop::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;  // dropped; `task` is destroyed on return
    posted_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (InLoopThread()) return;
  // Several threads may call Stop at once: only one may join, the others
  // wait for the loop to have exited.
  {
    std::lock_guard<std::mutex> lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }
  WaitUntilExited();
}

bool EventLoop::InLoopThread() const { return current_loop == this; }

void EventLoop::WaitUntilExited() {
  std::unique_lock<std::mutex> lock(mu_);
  exited_cv_.wait(lock, [this] { return exited_; });
}

void EventLoop::Run() {
  current_loop = this;
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());

  std::unique_lock<std::mutex> lock(mu_);
  std::deque<Task> batch;
  while (!stopping_) {
    // Posted tasks first, then due timers; the lock is released around each
    // task so tasks may post, set and cancel timers.
    if (!posted_.empty()) {
      batch.swap(posted_);
      while (!batch.empty() && !stopping_) {
        Task task = std::move(batch.front());
        batch.pop_front();
        lock.unlock();
        task();
        task = nullptr;  // destroy captures before re-locking
        lock.lock();
      }
      continue;
    }
    if (timer_heap_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const TimerEntry top = timer_heap_.top();
    auto it = timers_.find(top.id);
    if (it == timers_.end()) {  // cancelled
      timer_heap_.pop();
      continue;
    }
    if (std::chrono::steady_clock::now() < top.when) {
      wake_.wait_until(lock, top.when);
      continue;
    }
    timer_heap_.pop();
    Task task = std::move(it->second);
    timers_.erase(it);
    lock.unlock();
    task();
    task = nullptr;
    lock.lock();
  }

  // Stopped: nothing more runs. Pending tasks are destroyed here, outside
  // the lock (their destructors may call Post, which then drops).
  std::deque<Task> posted;
  posted.swap(posted_);
  std::unordered_map<TimerId, Task> timers;
  timers.swap(timers_);
  timer_heap_ = {};
  lock.unlock();
  batch.clear();
  posted.clear();
  timers.clear();
  lock.lock();
  exited_ = true;
  lock.unlock();
  exited_cv_.notify_all();
  current_loop = nullptr;
}

}  // namespace peerlab::runtime
