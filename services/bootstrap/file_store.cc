#include "services/bootstrap/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "services/bootstrap/document.h"
#include "services/bootstrap/validation.h"
#include "services/common/logging.h"

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

absl::Status WriteAll(int fd, const std::string& data,
                      const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(Errno("write", path));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
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
  nlohmann::json outer = nlohmann::json::parse(contents, nullptr, false);
  if (outer.is_discarded()) return refuse("not JSON, or truncated");
  if (!outer.is_object() || !outer.contains("format") ||
      outer["format"] != kFormat) {
    return refuse("no \"format\": \"peerlab-bootstrap\" field");
  }
  if (!outer.contains("version") || !outer["version"].is_number_integer()) {
    return refuse("no version");
  }
  if (outer["version"].get<int>() != kVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store file ", path, " has format version ",
        outer["version"].get<int>(), "; this server reads version ", kVersion));
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
  if (auto s = ValidateConfig(doc.config()); !s.ok()) {
    return refuse(absl::StrCat("config.", s.message()));
  }
  return doc;
}

absl::StatusOr<std::unique_ptr<FileStore>> FileStore::Open(
    const Options& options) {
  const std::string& path = options.path;
  if (path.empty()) return absl::InvalidArgumentError("--store: empty path");
  std::string lock_path = path + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(
        Errno("cannot open lock file", lock_path));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = ::pread(lock_fd, buf, sizeof(buf) - 1, 0);
    ::close(lock_fd);
    std::string holder = n > 0 ? std::string(buf, n) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
      holder.pop_back();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "store file ", path, " is in use by another peerlab-bootstrap (pid ",
        holder, ", lock ", lock_path, ")"));
  }
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(lock_fd, 0) != 0 ||
      ::pwrite(lock_fd, pid.data(), pid.size(), 0) < 0) {
    spdlog::warn("could not record pid in {}: {}", lock_path,
                 std::strerror(errno));
  }

  Document doc;
  bool create = false;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      ::close(lock_fd);
      return absl::FailedPreconditionError(Errno("cannot read", path));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto decoded = Decode(ss.str(), path);
    if (!decoded.ok()) {
      ::close(lock_fd);
      return decoded.status();
    }
    doc = *std::move(decoded);
    SortPeers(doc);
  } else {
    if (auto s = ValidateConfig(options.initial_config); !s.ok()) {
      ::close(lock_fd);
      return s;
    }
    doc = NewDocument(options.initial_config);
    create = true;
  }
  std::unique_ptr<FileStore> store(new FileStore(path, lock_fd, doc));
  if (create) {
    if (auto s = store->WriteFile(doc); !s.ok()) return s;
  }
  return store;
}

FileStore::FileStore(std::string path, int lock_fd, Document doc)
    : path_(std::move(path)), lock_fd_(lock_fd), current_(doc), durable_(doc) {
  writer_ = std::thread([this] { WriterLoop(); });
}

FileStore::~FileStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  writer_.join();
  ::close(lock_fd_);
}

uint64_t FileStore::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
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
      if (!changed.ok()) {
        refused = changed.status();
      } else {
        if (*changed) {
          next.set_revision(current_.revision() + 1);
          current_ = next;
        }
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
    work_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::deque<Pending> batch;
    batch.swap(pending_);
    // The newest state of the batch is the one to persist; it includes
    // every change before it.
    const Document* newest_change = nullptr;
    for (const Pending& p : batch) {
      if (p.changed) newest_change = &p.doc;
    }
    absl::Status written;
    if (newest_change != nullptr) {
      Document to_write = *newest_change;
      lock.unlock();
      written = WriteFile(to_write);
      lock.lock();
      if (written.ok()) {
        durable_ = to_write;
        ++commits_;
      } else {
        failure_ = absl::UnavailableError(
            absl::StrCat("store write failed, no further changes accepted: ",
                         written.message()));
        spdlog::error("{}", failure_.message());
        current_ = durable_;
        // Later mutations already queued were applied on top of state that
        // is now rolled back: refuse them too.
        for (Pending& p : pending_) batch.push_back(std::move(p));
        pending_.clear();
      }
    }
    lock.unlock();
    for (Pending& p : batch) {
      if (!written.ok()) {
        p.done(failure_);
        continue;
      }
      if (p.changed) listeners_.Notify(p.doc);
      p.done(p.doc);
    }
    lock.lock();
  }
}

absl::Status FileStore::WriteFile(const Document& doc) {
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(Errno("cannot create", tmp));
  absl::Status s = WriteAll(fd, Encode(doc), tmp);
  if (s.ok() && ::fdatasync(fd) != 0) {
    s = absl::UnavailableError(Errno("fsync", tmp));
  }
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(Errno("rename to", path_));
  }
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return absl::UnavailableError(Errno("cannot open directory", dir));
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return absl::UnavailableError(Errno("fsync directory", dir));
  return absl::OkStatus();
}

}  // namespace peerlab::bootstrap
