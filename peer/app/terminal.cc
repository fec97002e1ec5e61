#include "peer/app/terminal.h"

#include <iostream>

#include "peer/cli/session.h"

namespace peerlab::peer {

Terminal::Terminal(cli::ViewHub* hub, bool interactive)
    : hub_(hub), interactive_(interactive) {
  watch_ = hub_->Watch({}, [this](const cli::ViewLine& line) { Show(line); });
}

Terminal::~Terminal() { Stop(); }

void Terminal::Stop() {
  if (watch_ != 0) {
    hub_->Unwatch(watch_);
    watch_ = 0;
  }
}

void Terminal::Show(const cli::ViewLine& line) {
  if (line.view == cli::kLogView) {
    std::cerr << line.text << "\n";
    return;
  }
  std::cout << line.text << "\n" << std::flush;
}

int Terminal::Run(const cli::Registry& registry, const std::string&,
                  const std::string&, const std::function<bool()>& stop) {
  cli::ViewOutput out(hub_);
  return cli::RunLines(registry, std::cin, out, stop);
}

void Terminal::Wake() {}

}  // namespace peerlab::peer
