#include "base/bounded_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace peerlab {
namespace {

std::string Prefix(std::string_view what, const std::string& path) {
  return absl::StrCat(std::string(what), ": ", path, ": ");
}

std::string HumanBytes(size_t n) {
  if (n >= 1024 * 1024 && n % (1024 * 1024) == 0) {
    return absl::StrCat(n / (1024 * 1024), " MiB");
  }
  if (n >= 1024 && n % 1024 == 0) return absl::StrCat(n / 1024, " KiB");
  return absl::StrCat(n, " bytes");
}

absl::Status FromErrno(int err, std::string_view what, const std::string& path,
                       const char* doing) {
  std::string msg = Prefix(what, path);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(msg, "no such file"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat(msg, "permission denied (", doing, ")"));
    case ENOTDIR:
      return absl::NotFoundError(
          absl::StrCat(msg, "a part of the path is not a directory"));
    case ELOOP:
      return absl::FailedPreconditionError(
          absl::StrCat(msg, "too many symbolic links"));
    default:
      return absl::UnavailableError(
          absl::StrCat(msg, "cannot ", doing, ": ", std::strerror(err)));
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFileBounded(const std::string& path,
                                            size_t max_bytes,
                                            std::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": empty path"));
  }
  // O_NONBLOCK so that opening a FIFO with no writer does not hang; the
  // fstat below refuses it anyway.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return FromErrno(errno, what, path, "open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return FromErrno(err, what, path, "stat");
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(Prefix(what, path), "is a directory, not a file"));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        Prefix(what, path), "is not a regular file (device, FIFO or socket)"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return absl::ResourceExhaustedError(
        absl::StrCat(Prefix(what, path), "is ", HumanBytes(st.st_size),
                     ", larger than the limit of ", HumanBytes(max_bytes)));
  }
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return FromErrno(err, what, path, "read");
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(Prefix(what, path), "is larger than the limit of ",
                       HumanBytes(max_bytes)));
    }
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

absl::Status CheckWritablePath(const std::string& path, std::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": empty path"));
  }
  if (path.back() == '/') {
    return absl::FailedPreconditionError(absl::StrCat(
        Prefix(what, path), "names a directory; a file name is needed"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        Prefix(what, path), "is a directory; a file name is needed"));
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(Prefix(what, path), "directory ",
                                              dir, " does not exist"));
    }
    return FromErrno(err, what, path, "look at its directory");
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat(Prefix(what, path), dir, " is not a directory"));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        Prefix(what, path), "directory ", dir, " is not writable"));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents,
                                 std::string_view what,
                                 std::optional<mode_t> wanted_mode) {
  if (absl::Status s = CheckWritablePath(path, what); !s.ok()) return s;
  std::string target = path;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
      return FromErrno(errno, what, path, "resolve the symbolic link");
    }
    target = resolved;
    if (absl::Status s = CheckWritablePath(target, what); !s.ok()) return s;
  }
  mode_t mode = wanted_mode.value_or(0644);
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Prefix(what, path),
                       "is not a regular file (a device, FIFO or socket); "
                       "nothing written"));
    }
    if (!wanted_mode) mode = st.st_mode & 07777;
  }
  std::string tmp = target + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return FromErrno(errno, what, path, "create a temporary file");
  auto fail = [&](int err, const char* doing) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return FromErrno(err, what, path, doing);
  };
  if (absl::Status s = WriteAllToFd(fd, contents, what, path); !s.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fchmod(fd, mode) != 0) return fail(errno, "set the mode");
  if (::fsync(fd) != 0) return fail(errno, "fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FromErrno(err, what, path, "close");
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FromErrno(err, what, path, "rename");
  }
  return SyncDirectoryOf(target, what);
}

absl::Status WriteAllToFd(int fd, std::string_view data, std::string_view what,
                          const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno(errno, what, path, "write");
    }
    if (n == 0) return FromErrno(EIO, what, path, "write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path, std::string_view what) {
  std::string dir = path;
  const size_t slash = dir.find_last_of('/');
  if (slash == std::string::npos) {
    dir = ".";
  } else {
    dir.resize(slash == 0 ? 1 : slash);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return FromErrno(errno, what, dir, "open the directory");
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return FromErrno(err, what, dir, "fsync the directory");
  return absl::OkStatus();
}

absl::StatusOr<int> OpenForAppend(const std::string& path,
                                  std::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": empty path"));
  }
  int fd = ::open(
      path.c_str(),
      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) {
    int err = errno;
    if (err == ENXIO || err == EISDIR) {
      return absl::FailedPreconditionError(absl::StrCat(
          Prefix(what, path), err == EISDIR
                                  ? "is a directory, not a file"
                                  : "is a FIFO or socket, not a file"));
    }
    return FromErrno(err, what, path, "open");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return FromErrno(err, what, path, "stat");
  }
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(Prefix(what, path),
                     "is not a regular file (a FIFO, socket or block device)"));
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace peerlab
