#include "services/bootstrap/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "services/bootstrap/document.h"
#include "services/bootstrap/validation.h"
#include "base/bounded_file.h"
#include "base/logging.h"

namespace peerlab::bootstrap {
namespace {

constexpr char kFormat[] = "peerlab-bootstrap";
constexpr int kVersion = 1;

std::string Errno(const std::string& what, const std::string& path) {
  return absl::StrCat(what, " ", path, ": ", std::strerror(errno));
}

// FNV-1a, 64 bit: detects accidental damage, which is all it is for.
std::string Checksum(const std::string& data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("fnv1a64:%016x", h);
}

}  // namespace

std::string FileStore::Encode(const Document& doc) {
  std::string doc_json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(doc, &doc_json, options);
  nlohmann::json inner = nlohmann::json::parse(doc_json);
  nlohmann::json outer;
  outer["format"] = kFormat;
  outer["version"] = kVersion;
  outer["checksum"] = Checksum(inner.dump());
  outer["document"] = std::move(inner);
  return outer.dump(2) + "\n";
}

absl::StatusOr<Store::Document> FileStore::Decode(const std::string& contents,
                                                  const std::string& path) {
  auto refuse = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(
        "store file ", path, " is not a valid peerlab bootstrap file (", why,
        "); refusing to use or overwrite it. Move it away or point --store "
        "at another file."));
  };
  if (contents.size() > kMaxFileBytes) {
    return refuse(absl::StrCat(contents.size(), " bytes, more than the ",
                               kMaxFileBytes, " a store file may have"));
  }
  // nlohmann's parser is iterative, but dump() and the JSON-to-proto step
  // recurse: bound the depth before anything else looks at the text.
  if (auto s = CheckJsonDepth(contents, kMaxJsonDepth); !s.ok()) {
    return refuse(std::string(s.message()));
  }
  nlohmann::json outer = nlohmann::json::parse(contents, nullptr, false);
  if (outer.is_discarded()) return refuse("not JSON, or truncated");
  if (!outer.is_object() || !outer.contains("format") ||
      outer["format"] != kFormat) {
    return refuse("no \"format\": \"peerlab-bootstrap\" field");
  }
  if (!outer.contains("version") || !outer["version"].is_number_integer()) {
    return refuse("no version");
  }
  // Compared as JSON numbers: 4294967297 must not read as 1.
  if (outer["version"] != kVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store file ", path, " has format version ", outer["version"].dump(),
        "; this server reads version ", kVersion, " only"));
  }
  if (!outer.contains("document") || !outer["document"].is_object()) {
    return refuse("no document");
  }
  std::string inner = outer["document"].dump();
  if (!outer.contains("checksum") || outer["checksum"] != Checksum(inner)) {
    return refuse("checksum mismatch");
  }
  Document doc;
  auto status = google::protobuf::util::JsonStringToMessage(inner, &doc);
  if (!status.ok()) {
    return refuse(absl::StrCat("document: ", status.ToString()));
  }
  if (auto s = ValidateDocument(doc); !s.ok()) {
    return refuse(absl::StrCat("document.", s.message()));
  }
  return doc;
}

namespace {

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string DirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Reads the whole regular file behind `fd`, at most `max_bytes` (one more is
// read to notice a larger file).
absl::StatusOr<std::string> ReadFd(int fd, size_t max_bytes,
                                   const std::string& path) {
  std::string data;
  char buf[65536];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::FailedPreconditionError(Errno("cannot read", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    offset += n;
    if (data.size() > max_bytes) break;  // Decode refuses it, naming the size
  }
  return data;
}

// The pid recorded in PATH.lock, or "unknown". Never follows a symlink,
// never blocks on a FIFO, reads 32 bytes at most.
std::string RecordedPid(const std::string& lock_path) {
  int fd =
      ::open(lock_path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "unknown";
  struct stat st;
  char buf[32] = {0};
  ssize_t n = -1;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  }
  ::close(fd);
  std::string pid = n > 0 ? std::string(buf, n) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
    pid.pop_back();
  }
  for (char c : pid) {
    if (c < '0' || c > '9') return "unknown";
  }
  return pid.empty() ? "unknown" : pid;
}

void RecordPid(const std::string& lock_path) {
  int fd =
      ::open(lock_path.c_str(),
             O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::warn("could not record pid in {}: {}", lock_path,
                 std::strerror(errno));
    return;
  }
  struct stat st;
  std::string pid = absl::StrCat(::getpid(), "\n");
  // Never truncate a file that has another name (a hard link planted to
  // make the server overwrite something else).
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      ::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    spdlog::warn("could not record pid in {} (not a regular file?)", lock_path);
  }
  ::close(fd);
}

// A temporary file next to `path`, named by this process (pid and random
// bits), created exclusively (never an existing file, never through a
// symlink), locked, holding `data`, fdatasync'ed. Removed on failure.
struct TempFile {
  std::string path;
  int fd = -1;
};

absl::StatusOr<TempFile> WriteTemp(
    const std::string& path, const std::string& data,
    const std::function<absl::Status(FileStore::WriteStep)>& fault) {
  static std::mutex random_mu;
  static std::mt19937_64 random(std::random_device{}());
  uint64_t bits;
  {
    std::lock_guard<std::mutex> lock(random_mu);
    bits = random();
  }
  TempFile tmp;
  tmp.path = absl::StrFormat("%s.tmp-%d-%016x", path, ::getpid(), bits);
  tmp.fd = ::open(tmp.path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (tmp.fd < 0) {
    return absl::UnavailableError(Errno("cannot create", tmp.path));
  }
  absl::Status s;
  if (::flock(tmp.fd, LOCK_EX | LOCK_NB) != 0) {
    s = absl::UnavailableError(Errno("cannot lock", tmp.path));
  }
  if (s.ok() && fault) s = fault(FileStore::WriteStep::kTempCreated);
  if (s.ok()) s = WriteAllToFd(tmp.fd, data, "store file", tmp.path);
  if (s.ok() && ::fdatasync(tmp.fd) != 0) {
    s = absl::UnavailableError(Errno("fsync", tmp.path));
  }
  if (s.ok() && fault) s = fault(FileStore::WriteStep::kSynced);
  if (!s.ok()) {
    ::unlink(tmp.path.c_str());
    ::close(tmp.fd);
    return s;
  }
  return tmp;
}

// Removes what a killed server left: PATH.tmp-* files (any server writing
// them would hold the lock we now hold), and PATH.tmp of older versions when
// it is a regular file. Symlinks named PATH.tmp are left alone.
void RemoveStaleTemps(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string base = p.filename().string();
  const std::string prefix = base + ".tmp-";
  std::error_code ec;
  std::filesystem::directory_iterator it(DirectoryOf(path), ec), end;
  size_t removed = 0;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    bool stale = name.rfind(prefix, 0) == 0;
    if (name == base + ".tmp") {
      struct stat st;
      stale = ::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode);
    }
    if (stale && ::unlink(it->path().c_str()) == 0) ++removed;
  }
  if (removed > 0) {
    spdlog::info(
        "removed {} temporary file(s) a previous server left next to {}",
        removed, path);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileStore>> FileStore::Open(
    const Options& options) {
  std::string path = options.path;
  if (path.empty()) return absl::InvalidArgumentError("--store: empty path");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(path, ec);
    if (!options.follow_symlink) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store path ", path, " is a symbolic link (to ", target.string(),
          "); refusing it, since a server reaching the same file by another "
          "name could not be told apart. Point --store at the file itself, "
          "or pass --store-follow-symlink to use its target"));
    }
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store path ", path, " is a symbolic link to ", target.string(),
          ", which cannot be resolved: ", std::strerror(errno)));
    }
    spdlog::info("store path {} is a symbolic link: using {}", path, resolved);
    path = resolved;
  }
  const std::string lock_path = path + ".lock";

  Document doc;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    if (attempt == 10) {
      return absl::UnavailableError(absl::StrCat(
          "store file ", path, " keeps being replaced while opening it"));
    }
    int candidate =
        ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (candidate < 0 && errno == ENOENT) {
      // A new store: write it under a temporary name, locked, and move it
      // into place only if nobody created PATH meanwhile.
      if (auto s = ValidateConfig(options.initial_config); !s.ok()) return s;
      Document fresh = NewDocument(options.initial_config);
      auto tmp = WriteTemp(path, Encode(fresh), nullptr);
      if (!tmp.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot create store file ", path, ": ", tmp.status().message()));
      }
      int rc = ::renameat2(AT_FDCWD, tmp->path.c_str(), AT_FDCWD, path.c_str(),
                           RENAME_NOREPLACE);
      if (rc != 0 && errno == EINVAL) {  // no RENAME_NOREPLACE here
        rc = ::link(tmp->path.c_str(), path.c_str());
        if (rc == 0 || errno != EEXIST) ::unlink(tmp->path.c_str());
      }
      if (rc != 0) {
        const int err = errno;
        ::unlink(tmp->path.c_str());
        ::close(tmp->fd);
        if (err == EEXIST) continue;  // created meanwhile: open that one
        errno = err;
        return absl::FailedPreconditionError(
            Errno("cannot create store file", path));
      }
      if (auto s = SyncDirectoryOf(path, "store file"); !s.ok()) {
        ::close(tmp->fd);
        return absl::FailedPreconditionError(s.message());
      }
      fd = tmp->fd;
      doc = fresh;
      break;
    }
    if (candidate < 0) {
      if (errno == ELOOP) {
        return absl::FailedPreconditionError(absl::StrCat(
            "store path ", path, " is a symbolic link; refusing it"));
      }
      return absl::FailedPreconditionError(Errno("cannot open", path));
    }
    struct stat opened;
    if (::fstat(candidate, &opened) != 0 || !S_ISREG(opened.st_mode)) {
      ::close(candidate);
      return absl::FailedPreconditionError(
          absl::StrCat("store path ", path, " is not a regular file"));
    }
    if (::flock(candidate, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(candidate);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("store file ", path,
                         " is in use by another peerlab-bootstrap (pid ",
                         RecordedPid(lock_path), ", see ", lock_path, ")"));
      }
      errno = err;
      return absl::FailedPreconditionError(Errno("cannot lock", path));
    }
    // Locked what PATH was at open(); is it still PATH?
    struct stat now;
    if (::lstat(path.c_str(), &now) != 0 || !SameFile(now, opened)) {
      ::close(candidate);
      continue;
    }
    if (opened.st_nlink != 1) {
      ::close(candidate);
      return absl::FailedPreconditionError(absl::StrCat(
          "store file ", path, " has ", opened.st_nlink,
          " names (hard links); refusing it, since a server reaching it by "
          "another name could run on the same data. Keep one name only"));
    }
    auto contents = ReadFd(candidate, kMaxFileBytes, path);
    if (!contents.ok()) {
      ::close(candidate);
      return contents.status();
    }
    auto decoded = Decode(*contents, path);
    if (!decoded.ok()) {
      ::close(candidate);
      return decoded.status();
    }
    doc = *std::move(decoded);
    SortPeers(doc);
    fd = candidate;
  }
  RecordPid(lock_path);
  RemoveStaleTemps(path);
  return std::unique_ptr<FileStore>(new FileStore(options, path, fd, doc));
}

FileStore::FileStore(const Options& options, std::string path, int data_fd,
                     Document doc)
    : path_(std::move(path)),
      options_(options),
      data_fd_(data_fd),
      current_(doc),
      durable_(doc),
      backoff_(options.retry_min) {
  writer_ = std::thread([this] { WriterLoop(); });
}

FileStore::~FileStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  writer_.join();
  ::close(data_fd_);
  for (int fd : retained_fds_) ::close(fd);
}

uint64_t FileStore::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

absl::Status FileStore::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void FileStore::SetHealthListener(HealthListener listener) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_listener_ = std::move(listener);
  if (health_listener_) health_listener_(health());
}

void FileStore::ReportHealth(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_listener_) health_listener_(status);
}

void FileStore::Mutate(Mutation mutation, Done done) {
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) {
      refused = failure_;
    } else if (stopping_) {
      refused = absl::UnavailableError("store is shutting down");
    } else {
      Document next = current_;
      absl::StatusOr<bool> changed = mutation(next);
      const size_t size = changed.ok() ? next.ByteSizeLong() : 0;
      if (!changed.ok()) {
        refused = changed.status();
      } else if (!pending_.empty() &&
                 pending_bytes_ + size > options_.max_pending_bytes) {
        if (busy_refusals_++ % 1000 == 0) {
          spdlog::warn(
              "store {} is busy: {} changes ({} bytes of documents) wait for "
              "the disk, the limit; refusing more ({} refused so far)",
              path_, pending_.size(), pending_bytes_, busy_refusals_);
        }
        refused = absl::UnavailableError(absl::StrCat(
            "store is busy: ", pending_.size(),
            " changes wait for the disk (limit ", options_.max_pending_bytes,
            " bytes of documents); retry"));
      } else {
        if (*changed) {
          next.set_revision(current_.revision() + 1);
          current_ = next;
        }
        pending_bytes_ += size;
        pending_.push_back(Pending{current_, *changed, std::move(done)});
      }
    }
  }
  if (!refused.ok()) {
    done(refused);
    return;
  }
  work_.notify_one();
}

absl::StatusOr<Store::Document> FileStore::Read() {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_;
}

void FileStore::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!failure_.ok()) {
      // Nothing is queued while failing (Mutate refuses). Retry writing the
      // durable document until it works: that also replaces whatever a
      // half-done commit left at PATH.
      if (stopping_) return;
      if (absl::Now() < next_retry_) {
        work_.wait_until(lock, absl::ToChronoTime(next_retry_));
        continue;
      }
      Document doc = durable_;
      lock.unlock();
      absl::Status written = WriteFile(doc);
      lock.lock();
      if (written.ok()) {
        failure_ = absl::OkStatus();
        backoff_ = options_.retry_min;
        spdlog::info("store {} can be written again: accepting changes", path_);
        lock.unlock();
        ReportHealth(absl::OkStatus());
        lock.lock();
      } else {
        backoff_ = std::min(backoff_ * 2, options_.retry_max);
        next_retry_ = absl::Now() + backoff_;
        spdlog::warn("store {} still cannot be written ({}); next try in {}",
                     path_, written.message(), absl::FormatDuration(backoff_));
      }
      continue;
    }
    work_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::deque<Pending> batch;
    batch.swap(pending_);
    pending_bytes_ = 0;
    // The newest state of the batch is the one to persist; it includes
    // every change before it.
    const Document* newest_change = nullptr;
    for (const Pending& p : batch) {
      if (p.changed) newest_change = &p.doc;
    }
    absl::Status written;
    absl::Status refusal;
    if (newest_change != nullptr) {
      Document to_write = *newest_change;
      lock.unlock();
      written = WriteFile(to_write);
      lock.lock();
      if (written.ok()) {
        durable_ = to_write;
        ++commits_;
      } else {
        failure_ = absl::UnavailableError(absl::StrCat(
            "store cannot be written (", written.message(),
            "); changes are refused until a retried write succeeds"));
        refusal = failure_;
        spdlog::error("{}", failure_.message());
        current_ = durable_;
        backoff_ = options_.retry_min;
        next_retry_ = absl::Now() + backoff_;
        // Later mutations already queued were applied on top of state that
        // is now rolled back: refuse them too.
        for (Pending& p : pending_) batch.push_back(std::move(p));
        pending_.clear();
        pending_bytes_ = 0;
      }
    }
    lock.unlock();
    if (!refusal.ok()) ReportHealth(refusal);
    for (Pending& p : batch) {
      if (!written.ok()) {
        p.done(refusal);
        continue;
      }
      if (p.changed) listeners_.Notify(p.doc);
      p.done(p.doc);
    }
    lock.lock();
  }
}

absl::Status FileStore::WriteFile(const Document& doc) {
  auto tmp = WriteTemp(path_, Encode(doc), options_.fault_for_testing);
  if (!tmp.ok()) return tmp.status();
  // The file being replaced: if it has another name it stays reachable, so
  // keep it locked (a second server must not run on it).
  struct stat old;
  const bool keep_old = ::fstat(data_fd_, &old) == 0 && old.st_nlink > 1;
  if (::rename(tmp->path.c_str(), path_.c_str()) != 0) {
    absl::Status s = absl::UnavailableError(Errno("rename to", path_));
    ::unlink(tmp->path.c_str());
    ::close(tmp->fd);
    return s;
  }
  // PATH is now the new file, locked through tmp->fd.
  if (keep_old && retained_fds_.size() < kMaxRetainedLocks) {
    spdlog::warn(
        "the replaced store file {} still has {} other name(s) (a hard link): "
        "keeping it locked",
        path_, old.st_nlink - 1);
    retained_fds_.push_back(data_fd_);
  } else {
    if (keep_old) {
      spdlog::error(
          "the replaced store file {} still has other names, and {} such "
          "files are locked already: not keeping this one locked",
          path_, retained_fds_.size());
    }
    ::close(data_fd_);
  }
  data_fd_ = tmp->fd;
  if (options_.fault_for_testing) {
    if (auto s = options_.fault_for_testing(WriteStep::kRenamed); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = SyncDirectoryOf(path_, "store file"); !s.ok()) {
    return absl::UnavailableError(s.message());
  }
  return absl::OkStatus();
}

}  // namespace peerlab::bootstrap
