#include "base/testing/http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace peerlab::testing {

absl::StatusOr<HttpResponse> HttpGet(const std::string& address,
                                     const std::string& path,
                                     const std::vector<std::string>& headers,
                                     absl::Duration timeout) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("address without a port: " + address);
  }
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolve ", address, ": ", ::gai_strerror(rc)));
  }
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    const int err = errno;
    ::freeaddrinfo(found);
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect ", address, ": ", std::strerror(err)));
  }
  ::freeaddrinfo(found);
  std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, "\r\n");
  for (const std::string& h : headers) absl::StrAppend(&request, h, "\r\n");
  request += "\r\n";
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const absl::Time deadline = absl::Now() + timeout;
  std::string raw;
  char buf[4096];
  while (true) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      ::close(fd);
      return absl::DeadlineExceededError("GET " + path + ": timed out");
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    return absl::DataLossError("no end of headers in: " + raw.substr(0, 200));
  }
  HttpResponse response;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &response.status)) {
    return absl::DataLossError("bad status line: " + lines[0]);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t c = lines[i].find(':');
    if (c == std::string::npos) continue;
    response.headers[absl::AsciiStrToLower(lines[i].substr(0, c))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(c + 1)));
  }
  response.body = raw.substr(end + 4);
  return response;
}

namespace {

bool NameChar(char c, bool first) {
  return absl::ascii_isalpha(c) || c == '_' || c == ':' ||
         (!first && absl::ascii_isdigit(c));
}

absl::StatusOr<double> ParseValue(const std::string& text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    return absl::InvalidArgumentError("bad value '" + text + "'");
  }
  return v;
}

}  // namespace

absl::StatusOr<PromText> ParsePromText(const std::string& text) {
  PromText out;
  int number = 0;
  for (absl::string_view view : absl::StrSplit(text, '\n')) {
    ++number;
    const std::string line(view);
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", number, " '", line, "': ", why));
    };
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<std::string> parts =
          absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (parts.size() >= 3 && parts[1] == "TYPE") {
        if (parts.size() != 4) return bad("# TYPE needs a name and a type");
        static const char* kTypes[] = {"counter", "gauge", "histogram",
                                       "summary", "untyped"};
        bool known = false;
        for (const char* t : kTypes) known |= parts[3] == t;
        if (!known) return bad("unknown type");
        if (out.types.contains(parts[2])) return bad("second # TYPE");
        out.types[parts[2]] = parts[3];
      } else if (parts.size() >= 3 && parts[1] == "HELP") {
        out.helps[parts[2]] = parts.size() == 4 ? parts[3] : "";
      }
      continue;
    }
    PromSample sample;
    size_t i = 0;
    while (i < line.size() && NameChar(line[i], i == 0)) ++i;
    if (i == 0) return bad("no metric name");
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t start = i;
        while (i < line.size() && NameChar(line[i], i == start) &&
               line[i] != ':') {
          ++i;
        }
        const std::string label = line.substr(start, i - start);
        if (label.empty() || i + 1 >= line.size() || line[i] != '=' ||
            line[i + 1] != '"') {
          return bad("bad label");
        }
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            const char e = line[++i];
            value += e == 'n' ? '\n' : e;
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i >= line.size()) return bad("unterminated label value");
        ++i;  // closing quote
        if (sample.labels.contains(label)) return bad("label twice");
        sample.labels[label] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return bad("no closing }");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return bad("no value");
    std::vector<std::string> rest = absl::StrSplit(line.substr(i + 1), ' ');
    if (rest.empty() || rest.size() > 2) return bad("bad value or timestamp");
    auto value = ParseValue(rest[0]);
    if (!value.ok()) return bad(std::string(value.status().message()));
    sample.value = *value;
    out.samples.push_back(std::move(sample));
  }
  return out;
}

absl::StatusOr<double> PromText::Value(
    const std::string& name,
    const std::map<std::string, std::string>& labels) const {
  bool found = false;
  double sum = 0;
  for (const PromSample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match &= it != s.labels.end() && it->second == v;
    }
    if (!match) continue;
    found = true;
    sum += s.value;
  }
  if (!found) return absl::NotFoundError("no sample " + name);
  return sum;
}

}  // namespace peerlab::testing
