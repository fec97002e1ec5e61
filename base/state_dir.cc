#include "base/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/bounded_file.h"

namespace peerlab {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// Checks an existing directory: ours, and nobody else may write it.
absl::Status CheckPrivateDir(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", path, " is not a directory"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", path, " belongs to another user (uid ",
                     st.st_uid, ")"));
  }
  if ((st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "state directory %s is writable by group or others (mode %04o); "
        "run: chmod go-w %s",
        path, st.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

// mkdir -p with mode 0700 for every directory it creates.
absl::Status MakeDirs(const std::string& path) {
  std::string sofar;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    sofar = path.substr(0, next);
    pos = next;
    if (sofar.empty()) continue;
    if (::mkdir(sofar.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create state directory ", sofar, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> UserStateDir() {
  std::string dir = Env("PEERLAB_STATE_DIR");
  if (dir.empty()) {
    std::string xdg = Env("XDG_STATE_HOME");
    if (!xdg.empty()) {
      dir = xdg + "/peerlab";
    } else {
      std::string home = Env("HOME");
      if (home.empty()) {
        return absl::FailedPreconditionError(
            "no state directory: set PEERLAB_STATE_DIR or HOME");
      }
      dir = home + "/.local/state/peerlab";
    }
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  if (absl::Status s = CheckPrivateDir(dir); !s.ok()) return s;
  return dir;
}

absl::StatusOr<std::string> PrivateSubdirectory(const std::string& parent,
                                                std::string_view name_view) {
  const std::string name(name_view);
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." ||
      name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("not a directory name: \"", name, "\""));
  }
  // The parent too: --state-dir reaches here without UserStateDir's check,
  // and in a directory others can write they could swap `name` for theirs.
  if (absl::Status s = CheckPrivateDir(parent); !s.ok()) return s;
  std::string dir = absl::StrCat(parent, "/", name);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create state directory ", dir, ": ", std::strerror(errno)));
  }
  if (absl::Status s = CheckPrivateDir(dir); !s.ok()) return s;
  return dir;
}

absl::StatusOr<std::string> ReadOrCreateSecretFile(
    const std::string& path, size_t max_bytes,
    const std::function<std::string()>& make, std::string_view what_view) {
  const std::string what(what_view);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
    }
    std::string tmp = path + ".tmp-XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
    if (fd < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " ", path, ": cannot create: ", std::strerror(errno)));
    }
    std::string bytes = make();
    absl::Status written =
        ::fchmod(fd, 0600) == 0
            ? WriteAllToFd(fd, bytes, what, tmp)
            : absl::FailedPreconditionError(std::strerror(errno));
    if (written.ok() && ::fsync(fd) != 0) {
      written = absl::FailedPreconditionError(std::strerror(errno));
    }
    ::close(fd);
    if (!written.ok()) {
      ::unlink(tmp.c_str());
      return absl::FailedPreconditionError(
          absl::StrCat(what, " ", path, ": cannot write: ", written.message()));
    }
    // link() never replaces: whoever links first wins, the others read it.
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return absl::FailedPreconditionError(absl::StrCat(
          what, " ", path, ": cannot create: ", std::strerror(err)));
    }
    ::unlink(tmp.c_str());
    // The secret must survive a crash once anyone has used it.
    if (absl::Status s = SyncDirectoryOf(path, what); !s.ok()) return s;
    if (::lstat(path.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
    }
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " is not a regular file"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", path, " belongs to another user (uid ", st.st_uid, ")"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s may be read or written by group or others (mode %04o); "
        "run: chmod 600 %s",
        what, path, st.st_mode & 07777, path));
  }
  return ReadFileBounded(path, max_bytes, what_view);
}

}  // namespace peerlab
