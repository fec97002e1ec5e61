// Small helpers the runner's files share: proto and text forms of times,
// sizes and cut texts, and the bounds on what a run keeps of a text.
// Internal to the runner (test-harness/coordinator).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_RUN_TEXT_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_RUN_TEXT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace peerlab::harness::run_text {

// What a run keeps of a script line, a filter's text or a peer's error
// message, and of a timeline entry's text. With the other bounds of the
// runner, a run's summary stays far below peerlab-test's receive limit
// (run_client.cc).
inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxTimelineTextBytes = 512;

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(t));
}

inline absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

// "12:34:56.789" (local time).
inline std::string ClockText(absl::Time t) {
  return absl::FormatTime("%H:%M:%E3S", t, absl::LocalTimeZone());
}

// "512 B", "64 KiB", "1.0 MiB".
inline std::string HumanBytes(size_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  if (n < 1024 * 1024 && n % 1024 == 0) return absl::StrCat(n / 1024, " KiB");
  if (n < 1024 * 1024) return absl::StrFormat("%.1f KiB", n / 1024.0);
  return absl::StrFormat("%.1f MiB", n / (1024.0 * 1024.0));
}

// `text`, or its first `max` bytes and a note.
inline std::string Cut(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  return absl::StrCat(text.substr(0, max), " [cut: ", HumanBytes(text.size()),
                      "]");
}

// "1.5 s".
inline std::string Seconds(absl::Duration d) {
  return absl::StrCat(absl::ToDoubleSeconds(d), " s");
}

}  // namespace peerlab::harness::run_text

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_RUN_TEXT_H_
