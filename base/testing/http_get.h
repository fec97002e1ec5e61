// Test-only: one HTTP/1.0 GET over a plain TCP connection, and a parser of
// the Prometheus text format (0.0.4) good enough to check what
// base/metrics.h renders. The end-to-end tests scrape each binary with
// these.
#ifndef PEERLAB_BASE_TESTING_HTTP_GET_H_
#define PEERLAB_BASE_TESTING_HTTP_GET_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace peerlab::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// GET `path` from `address` ("HOST:PORT", an IPv4 host or localhost) with
// the given extra header lines ("Authorization: Bearer x"); the whole
// response is read until the server closes. Errors: cannot connect,
// timeout, a malformed status line.
absl::StatusOr<HttpResponse> HttpGet(
    const std::string& address, const std::string& path,
    const std::vector<std::string>& headers = {},
    absl::Duration timeout = absl::Seconds(5));

// One sample line of the text format: name, labels, value.
struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

struct PromText {
  std::map<std::string, std::string> types;  // family name -> type
  std::map<std::string, std::string> helps;  // family name -> help
  std::vector<PromSample> samples;

  // The value of the sample `name` whose labels include `labels`; the sum
  // over every match when several match; NotFound when none does.
  absl::StatusOr<double> Value(
      const std::string& name,
      const std::map<std::string, std::string>& labels = {}) const;
};

// Parses `text`; InvalidArgument naming the line for anything the format
// does not allow (a sample before its # TYPE is allowed, as in the format).
absl::StatusOr<PromText> ParsePromText(const std::string& text);

}  // namespace peerlab::testing

#endif  // PEERLAB_BASE_TESTING_HTTP_GET_H_
