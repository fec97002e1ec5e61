#include "peer/app/handler_host.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "peer/cluster/tags.h"

namespace peerlab::peer {

using handlers::HandlerEvent;

HandlerHost::HandlerHost(std::string self_name,
                         handlers::HandlerRunner::Options options)
    : self_name_(std::move(self_name)) {
  options.self_name = self_name_;
  options.self_tags = [this] { return SelfTags(); };
  runner_ = std::make_unique<handlers::HandlerRunner>(std::move(options));
}

HandlerHost::~HandlerHost() { Stop(); }

void HandlerHost::Stop() { runner_->Stop(); }

absl::Status HandlerHost::AddAll(const std::vector<std::string>& specs) {
  for (const std::string& spec : specs) {
    auto id = runner_->Add(spec);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--event-handler ", spec, ": ", id.status().message()));
    }
  }
  return absl::OkStatus();
}

std::map<std::string, std::string> HandlerHost::SelfTags() const {
  std::lock_guard<std::mutex> lock(mu_);
  return self_tags_;
}

void HandlerHost::MemberEvent(const char* type, const membership::Member& m) {
  // Its tags (the "tag.K" fields), never the peer's own fields.
  std::map<std::string, std::string> tags = cluster::DecodeTags(m.meta);
  if (m.name == self_name_) {
    std::lock_guard<std::mutex> lock(mu_);
    self_tags_ = tags;
  }
  runner_->Dispatch(
      {.type = type,
       .input = handlers::MemberLine(m.name, m.addr,
                                     membership::StateName(m.state), tags) +
                "\n"});
}

void HandlerHost::OnJoin(const membership::Member& m) {
  MemberEvent(handlers::kMemberJoin, m);
}

void HandlerHost::OnLeave(const membership::Member& m) {
  MemberEvent(m.state == membership::MemberState::kLeft
                  ? handlers::kMemberLeave
                  : handlers::kMemberFailed,
              m);
}

void HandlerHost::OnUpdate(const membership::Member& m) {
  MemberEvent(handlers::kMemberUpdate, m);
}

void HandlerHost::OnQuery(const cluster::QueryRequest& query,
                          cluster::QueryRespond respond) {
  runner_->Dispatch({.type = handlers::kQuery,
                     .name = query.name,
                     .ltime = query.ltime,
                     .input = query.payload,
                     .respond = std::move(respond)});
}

void HandlerHost::OnUserEvent(const std::string& name,
                              const std::string& payload, uint64_t ltime) {
  runner_->Dispatch({.type = handlers::kUser,
                     .name = name,
                     .ltime = ltime,
                     .input = payload});
}

cli::Command HandlerHost::Command() {
  return {
      .name = "handler",
      .group = "agent",
      .usage = "handler add [FILTER=]PROGRAM [ARGS] | list | remove ID",
      .summary =
          "event handlers: programs run for membership events, user "
          "events and queries (no shell)",
      .help =
          "handler add [FILTER=]PROGRAM [ARGS]: run PROGRAM (a path, or a "
          "name found in PATH; words split as on this command line, never "
          "by a shell) for each event FILTER passes: member-join, "
          "member-leave, member-failed, member-update, member-reap, user, "
          "user:NAME, query, query:NAME, * (the default), several joined by "
          "commas. Its environment has PEERLAB_EVENT, PEERLAB_SELF_NAME, "
          "PEERLAB_TAG_<KEY>, PEERLAB_USER_EVENT/PEERLAB_USER_LTIME or "
          "PEERLAB_QUERY_NAME/PEERLAB_QUERY_LTIME; its standard input the "
          "member lines (NAME, ADDRESS, STATUS, TAGS, tab-separated) or the "
          "payload. A query handler's standard output is the response when "
          "it exits 0. handler list: the handlers with their ids and "
          "counters. handler remove ID. The harness coordinator may add "
          "handlers only where lab.allow_programs is on.",
      .min_args = 1,
      .handler = [this](const cli::Call& call,
                        cli::Output& out) -> absl::Status {
        const std::string& verb = call.args[0];
        if (verb == "add") {
          if (call.args.size() < 2) {
            return absl::InvalidArgumentError(
                "usage: handler add [FILTER=]PROGRAM [ARGS]");
          }
          // The raw text after "add", so quotes keep their meaning.
          absl::string_view spec =
              absl::StripLeadingAsciiWhitespace(absl::StripPrefix(
                  absl::StripLeadingAsciiWhitespace(call.rest), "add"));
          auto id = runner_->Add(std::string(spec));
          if (!id.ok()) return id.status();
          out.Print(absl::StrCat("handler ", *id, " added"));
          return absl::OkStatus();
        }
        if (verb == "list") {
          const auto list = runner_->List();
          for (const auto& h : list) {
            out.Print(absl::StrCat(h.id, " ", h.filter, " ", h.program));
          }
          const auto s = runner_->stats();
          out.Print(absl::StrCat(
              list.size(), " handlers; runs: ", s.succeeded, " ok, ", s.failed,
              " failed, ", s.timed_out, " timed out, ", s.dropped,
              " dropped (queue full), ", s.responses, " query responses"));
          return absl::OkStatus();
        }
        if (verb == "remove") {
          uint64_t id = 0;
          if (call.args.size() != 2 || !absl::SimpleAtoi(call.args[1], &id)) {
            return absl::InvalidArgumentError("usage: handler remove ID");
          }
          if (auto s = runner_->Remove(id); !s.ok()) return s;
          out.Print(absl::StrCat("handler ", id, " removed"));
          return absl::OkStatus();
        }
        return absl::InvalidArgumentError(
            absl::StrCat("handler ", verb, ": not add, list or remove"));
      }};
}

}  // namespace peerlab::peer
