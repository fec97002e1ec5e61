// FakePeerLinks: PeerLinks without gRPC, for the runner's tests. Each link
// answers commands with a handler the test sets and delivers the view lines
// the test writes, at once, on the writing thread (so that a test knows a
// line has been counted when Write returns). A command whose deadline has
// passed (on the links' clock) fails with DeadlineExceeded, as over gRPC.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_FAKE_PEER_LINK_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_FAKE_PEER_LINK_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "google/protobuf/util/time_util.h"
#include "test-harness/coordinator/peer_link.h"

namespace peerlab::harness {

class FakePeerLinks {
 public:
  // Answers a command line of peer `name`: the response, or a transport
  // error. The default answers every command with an empty OK response.
  using Handler = std::function<absl::StatusOr<::peer::v1::ExecuteResponse>(
      const std::string& name, const std::string& line)>;

  // Lines are stamped with `clock`'s time unless Write says otherwise.
  explicit FakePeerLinks(const Clock* clock = &Clock::Real()) : clock_(clock) {}
  FakePeerLinks(const FakePeerLinks&) = delete;
  FakePeerLinks& operator=(const FakePeerLinks&) = delete;

  void SetHandler(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }

  // Writes `text` to `view` of the newest link of `name`, delivered at
  // once on the calling thread (which must not hold the run's lock; a
  // command handler may write). Returns false when `name` has no open link.
  bool Write(const std::string& name, const std::string& view,
             const std::string& text, absl::Time time = absl::InfinitePast()) {
    return WriteLine(name, view, text, nullptr, time);
  }

  // Writes a typed membership event of `name`'s membership node (kind,
  // member) as the peer does: a line of eventsView carrying a
  // peer.v1.MemberEvent record. Delivered as Write does.
  bool WriteMemberEvent(const std::string& name,
                        ::peer::v1::MemberEvent::Kind kind,
                        const std::string& member,
                        absl::Time time = absl::InfinitePast()) {
    ::peer::v1::ViewRecord record;
    record.mutable_member()->set_kind(kind);
    record.mutable_member()->set_name(member);
    record.mutable_member()->set_incarnation(1);
    return WriteLine(name, "eventsView",
                     absl::StrCat("member ", member, " ",
                                  ::peer::v1::MemberEvent::Kind_Name(kind)),
                     &record, time);
  }

 private:
  bool WriteLine(const std::string& name, const std::string& view,
                 const std::string& text, const ::peer::v1::ViewRecord* record,
                 absl::Time time) {
    std::shared_ptr<Link::Shared> shared;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = newest_.find(name);
      if (it == newest_.end()) return false;
      shared = it->second.lock();
    }
    if (!shared) return false;
    ::peer::v1::WatchViewsResponse r;
    ::peer::v1::ViewLine* line = r.add_lines();
    line->set_view(view);
    line->set_text(text);
    if (record) *line->mutable_record() = *record;
    *line->mutable_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(time == absl::InfinitePast() ? clock_->Now()
                                                           : time));
    std::lock_guard<std::mutex> lock(shared->deliver_mu);
    if (shared->closed) return false;
    shared->callbacks.lines(r);
    return true;
  }

 public:
  // Links opened so far, and command lines run so far ("name: line").
  int opened() const {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_;
  }
  std::vector<std::string> commands() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }
  // How long each command of commands() had until its deadline.
  std::vector<absl::Duration> budgets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return budgets_;
  }

  PeerLinkFactory Factory() {
    return [this](const ::harness::v1::PeerInfo& peer, std::string,
                  PeerLink::Callbacks callbacks) -> std::unique_ptr<PeerLink> {
      auto link =
          std::make_unique<Link>(this, peer.name(), std::move(callbacks));
      std::lock_guard<std::mutex> lock(mu_);
      ++opened_;
      newest_[peer.name()] = link->shared();
      return link;
    };
  }

 private:
  class Link : public PeerLink {
   public:
    struct Shared {
      Callbacks callbacks;
      std::atomic<bool> closed{false};
      std::mutex deliver_mu;  // held while a line is delivered
    };

    Link(FakePeerLinks* owner, std::string name, Callbacks callbacks)
        : owner_(owner),
          name_(std::move(name)),
          shared_(std::make_shared<Shared>()) {
      shared_->callbacks = std::move(callbacks);
    }
    ~Link() override {
      Close();
      // No Write delivers any more once this lock is taken.
      std::lock_guard<std::mutex> lock(shared_->deliver_mu);
      shared_->callbacks.ended(absl::CancelledError("closed"));
    }
    absl::StatusOr<::peer::v1::ExecuteResponse> Execute(
        const std::string& line, absl::Time deadline) override {
      if (shared_->closed) return absl::CancelledError("link closed");
      // As a gRPC call: none is made once its deadline has passed.
      if (owner_->clock_->Now() >= deadline) {
        return absl::DeadlineExceededError("Deadline Exceeded");
      }
      Handler handler;
      {
        std::lock_guard<std::mutex> lock(owner_->mu_);
        owner_->commands_.push_back(name_ + ": " + line);
        owner_->budgets_.push_back(deadline - owner_->clock_->Now());
        handler = owner_->handler_;
      }
      if (!handler) return ::peer::v1::ExecuteResponse();
      return handler(name_, line);
    }
    // Called under the run's lock: takes no lock.
    void Close() override { shared_->closed = true; }
    std::shared_ptr<Shared> shared() const { return shared_; }

   private:
    FakePeerLinks* const owner_;
    const std::string name_;
    std::shared_ptr<Shared> shared_;
  };

  const Clock* const clock_;
  mutable std::mutex mu_;
  Handler handler_;
  int opened_ = 0;
  std::vector<std::string> commands_;
  std::vector<absl::Duration> budgets_;  // deadline - now, per command
  std::map<std::string, std::weak_ptr<Link::Shared>> newest_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_FAKE_PEER_LINK_H_
