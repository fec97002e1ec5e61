// A spdlog sink that writes log records into a view ("logView"), so the
// terminal, remote watchers and the harness see logs like any other output.
#ifndef PEERLAB_PEER_APP_VIEW_LOG_SINK_H_
#define PEERLAB_PEER_APP_VIEW_LOG_SINK_H_

#include <mutex>
#include <string>

#include "peer/cli/view.h"
#include "base/logging.h"  // MakeEscapingFormatter
#include "spdlog/sinks/base_sink.h"

namespace peerlab::peer {

class ViewLogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // `hub` must outlive the sink's use.
  explicit ViewLogSink(cli::ViewHub* hub, std::string view = cli::kLogView)
      : hub_(hub), view_(std::move(view)) {
    // One record, one line: control characters in the message (names and
    // text from the network) are escaped.
    set_formatter(MakeEscapingFormatter("%-5l [%n] %v"));
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string text(formatted.data(), formatted.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    hub_->Write(view_, text);
  }
  void flush_() override {}

 private:
  cli::ViewHub* const hub_;
  const std::string view_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_VIEW_LOG_SINK_H_
