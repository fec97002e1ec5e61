#include "peer/cli/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <istream>
#include <memory>
#include <streambuf>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "peer/cli/completion.h"
#include "peer/cli/history_file.h"
#include "peer/cli/line_editor.h"
#include "peer/cli/line_style.h"
#include "peer/cli/session.h"

namespace peerlab::cli {
namespace {

constexpr size_t kMaxPending = 10000;  // queued view lines (interactive)
constexpr size_t kHistoryLines = 1000;

void Drain(int fd) {
  char buf[256];
  while (::read(fd, buf, sizeof(buf)) > 0) {
  }
}

void WriteStdout(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

bool UseColour() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr &&
         term != nullptr && std::strcmp(term, "dumb") != 0;
}

// Signals the interactive prompt handles while it is open. The handler
// only sets a flag and writes a byte to the self-pipe.
std::atomic<int> g_signal_fd{-1};
std::atomic<bool> g_interrupted{false};  // SIGINT: Ctrl-C
std::atomic<bool> g_resized{false};      // SIGWINCH: redraw
std::atomic<bool> g_continued{false};    // SIGCONT: back from Ctrl-Z

void OnSignal(int sig) {
  int saved_errno = errno;
  if (sig == SIGINT) {
    g_interrupted = true;
  } else if (sig == SIGCONT) {
    g_continued = true;
  } else {
    g_resized = true;
  }
  int fd = g_signal_fd.load();
  if (fd >= 0) {
    char c = 's';
    [[maybe_unused]] ssize_t n = ::write(fd, &c, 1);
  }
  errno = saved_errno;
}

// Installs OnSignal for SIGINT, SIGWINCH and SIGCONT; restores the previous
// dispositions when destroyed.
class ScopedSignals {
 public:
  explicit ScopedSignals(int wake_fd) {
    g_interrupted = false;
    g_resized = false;
    g_continued = false;
    g_signal_fd = wake_fd;
    struct sigaction action {};
    action.sa_handler = &OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], &action, &saved_[i]);
    }
  }
  ~ScopedSignals() {
    for (size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], &saved_[i], nullptr);
    }
    g_signal_fd = -1;
  }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGWINCH, SIGCONT};
  std::array<struct sigaction, 3> saved_{};
};

// A streambuf over a file descriptor whose reads also wait on a wake pipe:
// when woken and `stop()` is true it reports end of input, so RunLines
// returns even while stdin stays open.
class WakeableInput : public std::streambuf {
 public:
  WakeableInput(int fd, int wake_fd, std::function<bool()> stop)
      : fd_(fd), wake_fd_(wake_fd), stop_(std::move(stop)) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    for (;;) {
      if (stop_ && stop_()) return traits_type::eof();
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return traits_type::eof();
      }
      if (fds[1].revents & POLLIN) {
        Drain(wake_fd_);
        continue;
      }
      if (fds[0].revents == 0) continue;
      ssize_t n = ::read(fd_, buf_, sizeof(buf_));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return traits_type::eof();
      setg(buf_, buf_, buf_ + n);
      return traits_type::to_int_type(*gptr());
    }
  }

 private:
  const int fd_;
  const int wake_fd_;
  const std::function<bool()> stop_;
  char buf_[4096];
};

// The text for `lines` on the interactive terminal, each line ending in
// '\n', after a notice when `dropped` lines were lost.
std::string RenderLines(const std::deque<cli::ViewLine>& lines,
                        uint64_t dropped, bool colour) {
  std::string out;
  if (dropped > 0) {
    std::string notice =
        absl::StrCat("(", dropped,
                     " lines not shown: output came faster than the terminal "
                     "took it)");
    absl::StrAppend(&out, colour ? Render(LineStyle::kNotice, notice) : notice,
                    "\n");
  }
  for (const cli::ViewLine& line : lines) {
    absl::StrAppend(&out,
                    colour ? Render(StyleOf(line.view, line.text), line.text)
                           : Sanitize(line.text),
                    "\n");
  }
  return out;
}

}  // namespace

Terminal::Terminal(cli::ViewHub* hub, bool interactive)
    : hub_(hub), interactive_(interactive) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = fds[0];
    wake_write_ = fds[1];
  }
  if (!interactive_) {
    watch_ =
        hub_->Watch({}, [this](const cli::ViewLine& line) { ShowPlain(line); });
    return;
  }
  std::setlocale(LC_CTYPE, "");
  watch_ =
      hub_->Watch({}, [this](const cli::ViewLine& line) { Enqueue(line); });
  display_ = std::thread([this] { DisplayLoop(); });
}

Terminal::~Terminal() {
  Stop();
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
}

void Terminal::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (watch_ != 0) {
    hub_->Unwatch(watch_);
    watch_ = 0;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  Poke();
  if (display_.joinable()) display_.join();
}

void Terminal::Poke() {
  if (wake_write_ < 0) return;
  char c = 'w';
  [[maybe_unused]] ssize_t n = ::write(wake_write_, &c, 1);  // full: awake
}

void Terminal::Wake() {
  { std::lock_guard<std::mutex> lock(mu_); }  // orders with Run's wait
  cv_.notify_all();
  Poke();
}

void Terminal::ShowPlain(const cli::ViewLine& line) {
  if (!line.record.empty()) return;  // for programs; the log says it too
  std::lock_guard<std::mutex> lock(plain_mu_);
  if (line.view == cli::kLogView) {
    std::cerr << line.text << "\n";
    return;
  }
  std::cout << line.text << "\n" << std::flush;
}

int Terminal::RunPlain(const cli::Registry& registry,
                       const std::function<bool()>& stop) {
  cli::ViewOutput out(hub_);
  WakeableInput buffer(STDIN_FILENO, wake_read_, stop);
  std::istream in(&buffer);
  return cli::RunLines(registry, in, out, stop);
}

void Terminal::Enqueue(const cli::ViewLine& line) {
  if (!line.record.empty()) return;  // for programs; the log says it too
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(line);
    if (pending_.size() > kMaxPending) {
      pending_.pop_front();
      ++dropped_;
    }
  }
  Poke();
}

int Terminal::Run(const cli::Registry& registry, const std::string& name,
                  const std::string& history_file,
                  const std::function<bool()>& stop) {
  if (!interactive_) return RunPlain(registry, stop);
  auto stopping = [&] { return stop && stop(); };
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_ = Session{.registry = &registry,
                       .prompt = absl::StrCat(name, "> "),
                       .history_path = HistoryPath(history_file)};
    line_.reset();
    busy_ = false;
    eof_ = false;
    editor_failed_ = false;
  }
  Poke();

  cli::ViewOutput out(hub_);
  int failures = 0;
  bool fall_back = false;
  for (;;) {
    std::string line;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] {
        return line_.has_value() || eof_ || quit_ || editor_failed_ ||
               stopping();
      });
      if (stopping() || eof_ || quit_) break;
      if (editor_failed_) {
        fall_back = true;
        break;
      }
      if (!line_.has_value()) continue;
      line = std::move(*line_);
      line_.reset();
    }
    if (!cli::RunLine(registry, line, out).ok()) ++failures;
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    Poke();
  }

  // Close the prompt and wait until the terminal is restored.
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_.reset();
    line_.reset();
  }
  Poke();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !editor_open_; });
  }
  if (fall_back && !stopping()) failures += RunPlain(registry, stop);
  return failures;
}

void Terminal::DisplayLoop() {
  const bool colour = UseColour();
  std::unique_ptr<LineEditor> editor;
  std::unique_ptr<ScopedSignals> signals;
  Session session;
  std::string last_entered;  // not appended to the history file twice
  auto close_editor = [&] {
    editor.reset();  // clears the prompt, restores the terminal
    signals.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      editor_open_ = false;
    }
    cv_.notify_all();
  };

  for (;;) {
    std::deque<cli::ViewLine> lines;
    uint64_t dropped = 0;
    bool quit = false, want_editor = false, want_prompt = false;
    bool open_editor = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines.swap(pending_);
      std::swap(dropped, dropped_);
      quit = quit_;
      want_editor = session_.has_value() && !editor_failed_ && !quit_;
      want_prompt = want_editor && !busy_ && !eof_ && !line_.has_value();
      if (want_editor && !editor) {
        open_editor = true;
        editor_open_ = true;  // Run() waits for this to clear
        session = *session_;
      }
    }
    std::string text = RenderLines(lines, dropped, colour);
    if (editor) {
      editor->Print(text);
    } else if (!text.empty()) {
      WriteStdout(text);
    }
    if (editor && !want_editor) close_editor();
    if (quit) break;

    if (open_editor) {
      const cli::Registry* registry = session.registry;
      std::vector<std::string> history;
      if (!session.history_path.empty()) {
        history = LoadHistory(session.history_path, kHistoryLines)
                      .value_or(std::vector<std::string>{});
      }
      last_entered = history.empty() ? "" : history.back();
      auto created =
          LineEditor::Create({.prompt = session.prompt,
                              .history = std::move(history),
                              .history_size = kHistoryLines,
                              .complete =
                                  [registry](absl::string_view line) {
                                    return Complete(*registry, line);
                                  },
                              .wake_fd = wake_read_,
                              .should_close =
                                  [this] {
                                    std::lock_guard<std::mutex> lock(mu_);
                                    return !session_.has_value() || quit_;
                                  }});
      if (created.ok()) {
        editor = *std::move(created);
        signals = std::make_unique<ScopedSignals>(wake_write_);
      } else {
        WriteStdout(absl::StrCat("peerlab-peer: no line editing (",
                                 created.status().message(), ")\n"));
        {
          std::lock_guard<std::mutex> lock(mu_);
          editor_failed_ = true;
          editor_open_ = false;
        }
        cv_.notify_all();
      }
    }

    if (editor) {
      if (want_prompt) {
        editor->Show();
      } else {
        editor->Hide();
      }
      if (g_interrupted.exchange(false)) {
        if (editor->visible()) {
          editor->CancelLine();
        } else {
          editor->Print(
              "\n(Ctrl-C cancels a line being typed; it does not interrupt a "
              "running command)\n");
        }
      }
      if (g_continued.exchange(false)) editor->Resume();
      if (g_resized.exchange(false)) editor->Redraw();
    }

    pollfd fds[2] = {{wake_read_, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int nfds = editor && editor->visible() ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0 && errno != EINTR) {
      std::lock_guard<std::mutex> lock(mu_);
      eof_ = true;  // cannot go on reading: let Run() return
      cv_.notify_all();
      break;
    }
    if (fds[0].revents & POLLIN) Drain(wake_read_);
    if (nfds < 2 || (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    std::string line;
    switch (editor->ReadKey(&line)) {
      case LineEditor::Event::kNone:
        break;
      case LineEditor::Event::kEof: {
        std::lock_guard<std::mutex> lock(mu_);
        eof_ = true;
        cv_.notify_all();
        break;
      }
      case LineEditor::Event::kLine: {
        line = std::string(absl::StripAsciiWhitespace(line));
        if (line.empty()) break;  // just a new prompt
        if (!session.history_path.empty() && line != last_entered) {
          if (auto s = AppendHistory(session.history_path, line); !s.ok()) {
            editor->Print(absl::StrCat("history: ", s.message(), "\n"));
            session.history_path.clear();  // say it once
          }
        }
        last_entered = line;
        std::lock_guard<std::mutex> lock(mu_);
        line_ = std::move(line);
        busy_ = true;
        cv_.notify_all();
        break;
      }
    }
  }
  if (editor) close_editor();
}

}  // namespace peerlab::cli
