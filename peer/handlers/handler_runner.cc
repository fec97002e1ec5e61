#include "peer/handlers/handler_runner.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/escape.h"

namespace peerlab::handlers {
namespace {

std::string NoTabs(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// "role-name.x" -> "ROLE_NAME_X".
std::string EnvKey(const std::string& key) {
  std::string out;
  for (char c : key) {
    out += absl::ascii_isalnum(static_cast<unsigned char>(c))
               ? absl::ascii_toupper(static_cast<unsigned char>(c))
               : '_';
  }
  return out;
}

// The first line of a program's standard error, escaped, for the log.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return EscapeControl(line);
}

}  // namespace

std::string MemberLine(const std::string& name, const std::string& address,
                       const std::string& status,
                       const std::map<std::string, std::string>& tags) {
  std::vector<std::string> kv;
  for (const auto& [k, v] : tags) kv.push_back(absl::StrCat(k, "=", v));
  return absl::StrCat(NoTabs(name), "\t", NoTabs(address), "\t", NoTabs(status),
                      "\t", NoTabs(absl::StrJoin(kv, ",")));
}

std::vector<std::string> HandlerEnvironment(
    const HandlerEvent& event, const std::string& self_name,
    const std::map<std::string, std::string>& self_tags) {
  std::vector<std::string> env = {"PEERLAB_EVENT=" + event.type,
                                  "PEERLAB_SELF_NAME=" + self_name};
  for (const auto& [k, v] : self_tags) {
    env.push_back(absl::StrCat("PEERLAB_TAG_", EnvKey(k), "=", v));
  }
  if (event.type == kUser) {
    env.push_back("PEERLAB_USER_EVENT=" + event.name);
    env.push_back(absl::StrCat("PEERLAB_USER_LTIME=", event.ltime));
  } else if (event.type == kQuery) {
    env.push_back("PEERLAB_QUERY_NAME=" + event.name);
    env.push_back(absl::StrCat("PEERLAB_QUERY_LTIME=", event.ltime));
  }
  return env;
}

HandlerRunner::HandlerRunner(Options options)
    : options_(std::move(options)), log_(options_.logger, "handlers") {
  const int n = std::max(1, options_.max_concurrent);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
}

HandlerRunner::~HandlerRunner() { Stop(); }

void HandlerRunner::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
  idle_cv_.notify_all();
}

absl::StatusOr<uint64_t> HandlerRunner::Add(const std::string& spec) {
  auto parsed = ParseHandlerSpec(spec);
  if (!parsed.ok()) return parsed.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (handlers_.size() >= options_.max_handlers) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this peer has ", handlers_.size(),
        " event handlers, its limit: remove one first (handler remove ID)"));
  }
  const uint64_t id = next_id_++;
  handlers_.push_back({id, *std::move(parsed)});
  return id;
}

absl::Status HandlerRunner::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = handlers_.begin(); it != handlers_.end(); ++it) {
    if (it->id == id) {
      handlers_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no event handler ", id, " (handler list shows them)"));
}

std::vector<HandlerRunner::Handler> HandlerRunner::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Handler> out;
  for (const Entry& e : handlers_) {
    out.push_back({e.id, e.spec.filter.text(), e.spec.program});
  }
  return out;
}

void HandlerRunner::Dispatch(const HandlerEvent& event) {
  std::map<std::string, std::string> tags;
  if (options_.self_tags) tags = options_.self_tags();
  std::vector<std::string> env =
      HandlerEnvironment(event, options_.self_name, tags);
  uint64_t dropped = 0;
  std::string dropped_what;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    for (const Entry& e : handlers_) {
      if (!e.spec.filter.Matches(event.type, event.name)) continue;
      Job job;
      job.handler_id = e.id;
      job.what = absl::StrCat("handler ", e.id, " (", event.type,
                              event.name.empty() ? "" : ":", event.name,
                              "): ", e.spec.program);
      if (queue_.size() >= options_.max_queue) {
        ++stats_.dropped;
        ++dropped;
        dropped_what = job.what;
        continue;
      }
      job.run.argv = e.spec.argv;
      job.run.env = env;
      job.run.input = event.input;
      job.run.timeout = options_.timeout;
      job.run.max_output = options_.max_output + 1;  // to see "too long"
      job.respond = event.respond;
      queue_.push_back(std::move(job));
      ++stats_.dispatched;
    }
  }
  if (dropped > 0) {
    log_.Warn("event handler queue full (", options_.max_queue,
              " jobs waiting): dropped ", dropped, " job(s), e.g. ",
              EscapeControl(dropped_what));
  }
  cv_.notify_all();
}

void HandlerRunner::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    const ProgramResult result = RunProgram(job.run, &stopping_);
    Finish(job, result);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
    }
    idle_cv_.notify_all();
  }
}

void HandlerRunner::Finish(const Job& job, const ProgramResult& result) {
  bool respond = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (result.ok()) {
      ++stats_.succeeded;
    } else if (result.timed_out) {
      ++stats_.timed_out;
    } else if (!result.cancelled) {
      ++stats_.failed;
    }
    respond = result.ok() && job.respond &&
              result.output.size() <= options_.max_output;
    if (respond) ++stats_.responses;
  }
  if (result.cancelled) return;
  if (!result.ok()) {
    log_.Warn(EscapeControl(job.what), ": ", result.Describe(),
              result.error.empty() ? "" : ": ", FirstLine(result.error));
    return;
  }
  if (job.respond && !respond) {
    log_.Warn(EscapeControl(job.what), ": its output is over ",
              options_.max_output, " bytes: no response sent");
    return;
  }
  if (respond) job.respond(result.output);
}

HandlerRunner::Stats HandlerRunner::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool HandlerRunner::WaitIdle(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [this] { return queue_.empty() && running_ == 0; });
}

}  // namespace peerlab::handlers
