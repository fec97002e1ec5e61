#include "peer/cli/history_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/bounded_file.h"

namespace peerlab::cli {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

std::string HistoryPath(absl::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  return absl::StrCat(home, "/.peerlab_history");
}

absl::StatusOr<std::vector<std::string>> LoadHistory(const std::string& path,
                                                     size_t limit) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return lines;
    return absl::UnavailableError(absl::StrCat("cannot read ", path));
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
  }
  if (lines.size() > limit) {
    bool compact = lines.size() > 2 * limit;
    lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(limit));
    if (compact) {
      std::string data;
      for (const std::string& l : lines) absl::StrAppend(&data, l, "\n");
      // Best effort: a history that cannot be compacted is still read.
      (void)WriteFileAtomically(path, data, "history file", 0600);
    }
  }
  return lines;
}

absl::Status AppendHistory(const std::string& path, absl::string_view line) {
  if (absl::StrContains(line, '\n')) {
    return absl::InvalidArgumentError("a history line cannot hold a newline");
  }
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open", path);
  // One write(), so lines of peers sharing the file do not interleave.
  absl::Status s =
      WriteAllToFd(fd, absl::StrCat(line, "\n"), "history file", path);
  if (::close(fd) != 0 && s.ok()) return Errno("cannot write", path);
  return s;
}

}  // namespace peerlab::cli
