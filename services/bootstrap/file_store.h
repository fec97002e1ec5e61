// FileStore: the embedded default store. The document lives in memory and in
// one JSON file; every change is on disk before it is acknowledged.
//
// Durability: each commit writes a temporary file the store names itself
// (PATH.tmp-PID-RANDOM, created with O_EXCL|O_NOFOLLOW, so a planted file or
// symlink is never written through), fsyncs it, renames it over PATH and
// fsyncs the directory, so PATH always holds a whole document (the old or
// the new one) whatever moment the process or machine dies.
//
// Group commit: mutations are applied in memory one at a time, in order, and
// a single writer thread persists the newest state of each batch with one
// fsync; every caller in the batch is then acknowledged. Durability therefore
// costs one fsync per batch, not per call.
//
// Exclusion: the lock is on the data itself, not on a side file that can be
// deleted. The store holds flock(LOCK_EX) on the inode at PATH, and takes
// the lock on each new file before renaming it over PATH. A second store
// that opens PATH (by any name: hard link, symlink, a deleted and recreated
// PATH.lock) meets the lock and gets FailedPrecondition; a PATH that is
// replaced between its open and its lock is opened again. Further:
//   - PATH must be a regular file with exactly one name (st_nlink == 1): a
//     hard link elsewhere would let a later server run on a stale copy once
//     the next commit replaces PATH. A replaced file that still has another
//     name stays locked while the store is open.
//   - A PATH that is a symbolic link is refused unless
//     Options::follow_symlink; then it is resolved once, at Open, and the
//     store works on the target's path.
//   - PATH.lock holds the owner's pid, for the refusal message only.
//
// Integrity: the file carries a format tag, a version and a checksum of the
// document; it is read from the locked descriptor, at most kMaxFileBytes,
// nested at most kMaxJsonDepth deep, and the document must pass
// ValidateDocument (validation.h). A file that is truncated, garbled, from
// another program, from another format version, or whose content is invalid
// is refused with DataLoss/FailedPrecondition naming what is wrong, and never
// overwritten.
//
// Bounded: mutations waiting for the writer hold at most max_pending_bytes
// of documents; more are refused (Unavailable, "busy") and logged.
//
// Write failures (disk full, read-only or vanished directory): the batch is
// refused (Unavailable) and the in-memory state rolls back to the last
// durable document, which is the only one anyone ever saw; the temporary
// file is removed. While the store cannot write, mutations are refused at
// once (Unavailable) and reads keep working; the writer retries writing the
// durable document (backoff from retry_min to retry_max) and, once that
// succeeds, accepts mutations again by itself. The health listener sees
// every transition.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

class FileStore : public Store {
 public:
  // Largest store file read. The largest valid document (validation.h)
  // encodes to about 5 MB (file_store_test.cc checks it).
  static constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
  // Most replaced files kept locked because they still had another name.
  static constexpr size_t kMaxRetainedLocks = 64;

  // Steps of a commit, for fault injection in tests.
  enum class WriteStep {
    kTempCreated,  // the temporary file exists, nothing written yet
    kSynced,       // written and fdatasync'ed, not yet renamed
    kRenamed,      // renamed over PATH, directory not yet fsync'ed
  };

  struct Options {
    std::string path;
    // Config of a new file; ignored when the file exists.
    ::bootstrap::v1::Config initial_config;
    // Accept a PATH that is a symbolic link (resolved once, at Open).
    bool follow_symlink = false;
    // After a failed write, the first retry after retry_min, doubling up to
    // retry_max.
    absl::Duration retry_min = absl::Milliseconds(100);
    absl::Duration retry_max = absl::Seconds(5);
    // Documents (protobuf bytes) of mutations waiting for the writer, at
    // most; beyond it Mutate answers Unavailable ("busy") at once, so a slow
    // disk under a flood of calls cannot exhaust memory.
    size_t max_pending_bytes = 256 * 1024 * 1024;
    // Tests: called at each step of each commit; an error makes the commit
    // fail there as a real error would. Runs on the writer thread.
    std::function<absl::Status(WriteStep)> fault_for_testing;
  };

  // Opens PATH, creating it (and writing it once) when it does not exist.
  static absl::StatusOr<std::unique_ptr<FileStore>> Open(
      const Options& options);

  // Waits for pending commits, stops the writer, releases the locks.
  ~FileStore() override;

  void Mutate(Mutation mutation, Done done) override;
  absl::StatusOr<Document> Read() override;
  int Subscribe(Listener listener) override { return listeners_.Add(listener); }
  void Unsubscribe(int handle) override { listeners_.Remove(handle); }
  std::string Describe() const override { return "file:" + path_; }
  void SetHealthListener(HealthListener listener) override;

  // How many fsync'ed commits so far (for tests and logs).
  uint64_t commits() const override;
  // OK, or why the store currently refuses mutations.
  absl::Status health() const;

  // Encodes/decodes the file format. Exposed for tests and tools.
  static std::string Encode(const Document& doc);
  static absl::StatusOr<Document> Decode(const std::string& contents,
                                         const std::string& path);

 private:
  struct Pending {
    Document doc;
    bool changed;
    Done done;
  };

  FileStore(const Options& options, std::string path, int data_fd,
            Document doc);
  void WriterLoop();
  // Writes `doc` as the new PATH. On success (and after a rename whose
  // directory fsync failed) data_fd_ is the new file's locked descriptor.
  // Only the writer thread (or Open, before it starts) calls it.
  absl::Status WriteFile(const Document& doc);
  void ReportHealth(const absl::Status& status);

  const std::string path_;  // resolved when it was a followed symlink
  const Options options_;
  int data_fd_;                    // the locked inode at path_
  std::vector<int> retained_fds_;  // replaced inodes that had other names
  uint64_t temp_counter_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_;
  Document current_;  // newest applied state, maybe not yet durable
  Document durable_;  // newest state on disk
  std::deque<Pending> pending_;
  size_t pending_bytes_ = 0;  // protobuf sizes of pending_'s documents
  uint64_t busy_refusals_ = 0;
  absl::Status failure_;  // set while writes fail
  absl::Time next_retry_ = absl::InfinitePast();
  absl::Duration backoff_;
  bool stopping_ = false;
  uint64_t commits_ = 0;

  std::mutex health_mu_;  // held while calling health_listener_
  HealthListener health_listener_;

  ListenerSet listeners_;
  std::thread writer_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_
