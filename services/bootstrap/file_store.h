// FileStore: the embedded default store. The document lives in memory and in
// one JSON file; every change is on disk before it is acknowledged.
//
// Durability: each commit writes PATH.tmp, fsyncs it, renames it over PATH
// and fsyncs the directory, so PATH always holds a whole document (the old
// or the new one) whatever moment the process or machine dies.
//
// Group commit: mutations are applied in memory one at a time, in order, and
// a single writer thread persists the newest state of each batch with one
// fsync; every caller in the batch is then acknowledged. Durability therefore
// costs one fsync per batch, not per call.
//
// Exclusion: PATH.lock is held with flock() while the store is open; a second
// process on the same file gets FailedPrecondition naming the holder's pid.
//
// Integrity: the file carries a format tag, a version and a checksum of the
// document. A file that is truncated, garbled, from another program or from
// a newer format is refused with DataLoss/FailedPrecondition and never
// overwritten.
//
// After a write error the store stops accepting mutations (Unavailable): the
// in-memory state is rolled back to the last durable document and reads keep
// working.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

class FileStore : public Store {
 public:
  struct Options {
    std::string path;
    // Config of a new file; ignored when the file exists.
    ::bootstrap::v1::Config initial_config;
  };

  // Opens PATH, creating it (and writing it once) when it does not exist.
  static absl::StatusOr<std::unique_ptr<FileStore>> Open(
      const Options& options);

  // Waits for pending commits, stops the writer, releases the lock.
  ~FileStore() override;

  void Mutate(Mutation mutation, Done done) override;
  absl::StatusOr<Document> Read() override;
  int Subscribe(Listener listener) override { return listeners_.Add(listener); }
  void Unsubscribe(int handle) override { listeners_.Remove(handle); }
  std::string Describe() const override { return "file:" + path_; }

  // How many fsync'ed commits so far (for tests and logs).
  uint64_t commits() const;

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

  FileStore(std::string path, int lock_fd, Document doc);
  void WriterLoop();
  absl::Status WriteFile(const Document& doc);

  const std::string path_;
  const int lock_fd_;

  mutable std::mutex mu_;
  std::condition_variable work_;
  Document current_;  // newest applied state, maybe not yet durable
  Document durable_;  // newest state on disk
  std::deque<Pending> pending_;
  absl::Status failure_;  // sticky after a write error
  bool stopping_ = false;
  uint64_t commits_ = 0;

  ListenerSet listeners_;
  std::thread writer_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_FILE_STORE_H_
