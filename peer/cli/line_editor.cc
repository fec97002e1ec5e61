#include "peer/cli/line_editor.h"

#include <histedit.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cwchar>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "peer/cli/line_style.h"

namespace peerlab::cli {
namespace {

LineEditor* Self(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<LineEditor*>(data);
}

// Display width of UTF-8 text, counted in code points (wide characters are
// rare at a command prompt).
size_t Width(absl::string_view text) {
  size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  }
  return n;
}

// Code points in UTF-8 `text`: what el_deletestr counts.
int Chars(absl::string_view text) { return static_cast<int>(Width(text)); }

void Drain(int fd) {
  char buf[256];
  while (::read(fd, buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LineEditor>> LineEditor::Create(
    Options options) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) {
    return absl::FailedPreconditionError(
        "the line editor needs a terminal on standard input and output");
  }
  std::unique_ptr<LineEditor> editor(new LineEditor(std::move(options)));
  editor->saved_termios_ok_ =
      ::tcgetattr(STDIN_FILENO, &editor->saved_termios_) == 0;
  EditLine* el = el_init("peerlab", stdin, stdout, stderr);
  if (el == nullptr) {
    return absl::FailedPreconditionError("libedit: el_init failed");
  }
  editor->el_ = el;
  el_set(el, EL_CLIENTDATA, editor.get());
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_SIGNAL, 0);  // signals are the owner's business
  el_set(el, EL_PROMPT, &LineEditor::PromptText);
  el_set(el, EL_GETCFN, &LineEditor::ReadChar);

  editor->hist_ = history_init();
  if (editor->hist_ == nullptr) {
    return absl::FailedPreconditionError("libedit: history_init failed");
  }
  HistEvent ev;
  history(editor->hist_, &ev, H_SETSIZE,
          static_cast<int>(editor->options_.history_size));
  history(editor->hist_, &ev, H_SETUNIQUE, 1);
  for (const std::string& line : editor->options_.history) {
    history(editor->hist_, &ev, H_ENTER, line.c_str());
  }
  el_set(el, EL_HIST, history, editor->hist_);

  // The user's ~/.editrc first, so that our keys win.
  el_source(el, nullptr);
  el_set(el, EL_ADDFN, "peerlab-complete", "complete a command or file name",
         &LineEditor::CompleteKey);
  el_set(el, EL_BIND, "^I", "peerlab-complete", nullptr);
  el_set(el, EL_ADDFN, "peerlab-eof", "end of input on an empty line",
         &LineEditor::EofKey);
  el_set(el, EL_BIND, "^D", "peerlab-eof", nullptr);
  return editor;
}

LineEditor::~LineEditor() {
  if (visible_) {
    ClearPrompt();
    Hide();
  }
  if (el_ != nullptr) el_end(el_);
  if (hist_ != nullptr) history_end(hist_);
  if (saved_termios_ok_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios_);
}

char* LineEditor::PromptText(EditLine* el) {
  return const_cast<char*>(Self(el)->options_.prompt.c_str());
}

unsigned char LineEditor::EofKey(EditLine* el, int) {
  LineEditor* self = Self(el);
  const LineInfo* li = el_line(el);
  if (li->buffer == li->lastchar) {
    self->eof_key_ = true;
    return CC_NEWLINE;
  }
  if (li->cursor == li->lastchar) return CC_ERROR;  // beep
  // Delete the character under the cursor, as emacs does.
  el_cursor(el, 1);
  el_deletestr(el, 1);
  return CC_REFRESH;
}

unsigned char LineEditor::CompleteKey(EditLine* el, int) {
  LineEditor* self = Self(el);
  if (!self->options_.complete) return CC_ERROR;
  const LineInfo* li = el_line(el);
  absl::string_view before(li->buffer,
                           static_cast<size_t>(li->cursor - li->buffer));
  CompletionResult result = self->options_.complete(before);
  if (result.matches.empty()) return CC_REFRESH_BEEP;
  absl::string_view typed = before.substr(result.word_start);
  if (result.replacement == typed) {
    // No progress: show the choices (after the key, above the prompt).
    if (result.matches.size() > 1) {
      self->listing_ = absl::StrCat(
          FormatColumns(result.matches,
                        static_cast<size_t>(std::max(20, self->Columns()))),
          "\n");
    }
    return CC_NORM;
  }
  el_deletestr(el, Chars(typed));
  if (el_insertstr(el, result.replacement.c_str()) != 0) return CC_ERROR;
  return CC_REFRESH;
}

int LineEditor::ReadChar(EditLine* el, wchar_t* out) {
  LineEditor* self = Self(el);
  char buf[MB_LEN_MAX];
  size_t n = 0;
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0},
                     {self->options_.wake_fd, POLLIN, 0}};
    int nfds = self->options_.wake_fd >= 0 ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      self->input_closed_ = true;
      return -1;
    }
    if (nfds == 2 && (fds[1].revents & POLLIN)) {
      Drain(self->options_.wake_fd);
      if (self->options_.should_close && self->options_.should_close()) {
        self->aborted_ = true;
        *out = L'\0';
        return 0;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    char c;
    ssize_t got = ::read(STDIN_FILENO, &c, 1);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {
      self->input_closed_ = true;
      *out = L'\0';
      return got == 0 ? 0 : -1;
    }
    buf[n++] = c;
    std::mbstate_t state{};
    wchar_t wc;
    size_t r = std::mbrtowc(&wc, buf, n, &state);
    if (r == static_cast<size_t>(-2) && n < sizeof(buf)) continue;
    if (r == static_cast<size_t>(-1) || r == static_cast<size_t>(-2)) {
      // Not valid in this locale: pass the bytes on one by one, as Latin-1.
      *out = static_cast<unsigned char>(buf[0]);
      return 1;
    }
    *out = wc;
    return 1;
  }
}

void LineEditor::Show() {
  if (visible_) return;
  el_set(el_, EL_UNBUFFERED, 1);  // raw mode, fresh line, draws the prompt
  visible_ = true;
}

void LineEditor::Hide() {
  if (!visible_) return;
  el_set(el_, EL_UNBUFFERED, 0);  // back to the terminal's normal mode
  visible_ = false;
}

LineEditor::Event LineEditor::ReadKey(std::string* line) {
  eof_key_ = false;
  aborted_ = false;
  int count = 0;
  const char* buf = el_gets(el_, &count);
  if (eof_key_ || input_closed_) {
    if (eof_key_) Write("\n");
    Hide();
    return Event::kEof;
  }
  if (aborted_) return Event::kNone;
  if (buf != nullptr && count > 0 && buf[count - 1] == '\n') {
    line->assign(buf, static_cast<size_t>(count - 1));
    while (!line->empty() && line->back() == '\r') line->pop_back();
    if (!absl::StripAsciiWhitespace(*line).empty()) {
      HistEvent ev;
      history(hist_, &ev, H_ENTER, line->c_str());
    }
    Hide();
    return Event::kLine;
  }
  if (!listing_.empty()) {
    std::string listing;
    listing.swap(listing_);
    Print(listing);
  }
  return Event::kNone;
}

int LineEditor::Columns() {
  int columns = 0;
  el_get(el_, EL_GETTC, "co", &columns, nullptr);
  return columns > 0 ? columns : 80;
}

void LineEditor::Write(absl::string_view text) {
  std::string out = absl::StrReplaceAll(text, {{"\n", "\r\n"}});
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void LineEditor::ClearPrompt() {
  const LineInfo* li = el_line(el_);
  size_t before =
      Width(options_.prompt) +
      Width(absl::string_view(li->buffer,
                              static_cast<size_t>(li->cursor - li->buffer)));
  size_t row = before / static_cast<size_t>(Columns());
  std::string out = "\r";
  if (row > 0) absl::StrAppend(&out, "\x1b[", row, "A");
  out += "\x1b[J";
  Write(out);
}

void LineEditor::Print(absl::string_view text) {
  if (text.empty()) return;
  if (!visible_) {
    Write(text);
    return;
  }
  ClearPrompt();
  Write(text);
  el_set(el_, EL_REFRESH);  // redraws the prompt and the input from here
}

void LineEditor::CancelLine() {
  const LineInfo* li = el_line(el_);
  std::string typed(li->buffer, static_cast<size_t>(li->lastchar - li->buffer));
  ClearPrompt();
  Write(absl::StrCat(options_.prompt, Sanitize(typed), "^C\n"));
  Hide();
  Show();
}

void LineEditor::Redraw() {
  el_resize(el_);
  if (!visible_) return;
  Write("\r\x1b[J");
  el_set(el_, EL_REFRESH);
}

void LineEditor::Resume() {
  if (!visible_) return;
  const LineInfo* li = el_line(el_);
  std::string typed(li->buffer, static_cast<size_t>(li->lastchar - li->buffer));
  int after = Chars(absl::string_view(
      li->cursor, static_cast<size_t>(li->lastchar - li->cursor)));
  Hide();
  Show();  // editing mode again; a fresh prompt on the current line
  if (typed.empty()) return;
  el_insertstr(el_, typed.c_str());
  el_cursor(el_, -after);
  Write("\r\x1b[J");
  el_set(el_, EL_REFRESH);
}

}  // namespace peerlab::cli
