#include "base/option_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/bounded_file.h"

namespace peerlab {
namespace {

// "WHAT: PATH: reason" from bounded_file.h without "WHAT: " (CLI11 names the
// option itself).
std::string Reason(const absl::Status& status) {
  std::string message(status.message());
  if (absl::StartsWith(message, ": ")) message.erase(0, 2);
  return message;
}

}  // namespace

const CLI::Validator LogLevel(
    [](std::string& level) -> std::string {
      for (const char* known :
           {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
        if (level == known) return "";
      }
      return absl::StrCat("'", level,
                          "' is not a level: trace, debug, info, warn, "
                          "error, critical or off");
    },
    "LEVEL", "log level");

const CLI::Validator WritableFile(
    [](std::string& path) -> std::string {
      if (path.empty()) return "";  // not set, as when not given
      absl::Status s = CheckWritablePath(path, "");
      return s.ok() ? "" : Reason(s);
    },
    "FILE (in an existing, writable directory)", "writable file");

const CLI::Validator ReadableFile(
    [](std::string& path) -> std::string {
      if (path.empty()) return "";  // not set, as when not given
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        return absl::StrCat(path, ": no such file");
      }
      if (S_ISDIR(st.st_mode)) {
        return absl::StrCat(path, ": is a directory, not a file");
      }
      if (!S_ISREG(st.st_mode)) {
        return absl::StrCat(path,
                            ": is not a regular file (device, FIFO or socket)");
      }
      if (::access(path.c_str(), R_OK) != 0) {
        return absl::StrCat(path, ": permission denied (read)");
      }
      return "";
    },
    "FILE (existing)", "readable file");

const CLI::Validator Unsigned64(
    [](std::string& text) -> std::string {
      uint64_t value = 0;
      const bool digits =
          !text.empty() &&
          text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || !absl::SimpleAtoi(text, &value)) {
        return absl::StrCat("'", text,
                            "' is not a whole number in 0 .. "
                            "18446744073709551615");
      }
      return "";
    },
    "UINT64", "unsigned 64");

const CLI::Validator NonEmpty(
    [](std::string& text) -> std::string {
      return text.empty() ? "an empty value is not allowed" : "";
    },
    "", "non-empty");

std::string HumanNumber(double value) {
  if (value == static_cast<double>(static_cast<long long>(value)) &&
      value < 1e18 && value > -1e18) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  for (int digits = 6; digits <= 18; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

CLI::Validator Range(double min, double max) {
  std::string desc = HumanNumber(min) + ".." + HumanNumber(max);
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(begin, &end);
        if (text.empty() || end == begin || *end != '\0' ||
            std::isspace(static_cast<unsigned char>(text[0])) || v != v) {
          return "'" + text + "' is not a number";
        }
        if (errno == ERANGE || v < min || v > max) {
          return text + " is outside " + HumanNumber(min) + ".." +
                 HumanNumber(max);
        }
        return "";
      },
      desc, "range");
}

CLI::Validator HostName(size_t max_length) {
  return CLI::Validator(
      [max_length](std::string& text) -> std::string {
        if (text.empty()) return "an empty host name is not allowed";
        if (text.size() > max_length) {
          return "host name '" + text + "' is longer than " +
                 std::to_string(max_length) + " characters";
        }
        size_t start = 0;
        while (start <= text.size()) {
          size_t dot = text.find('.', start);
          if (dot == std::string::npos) dot = text.size();
          const std::string label = text.substr(start, dot - start);
          if (label.empty() || label.size() > 63 || label.front() == '-' ||
              label.back() == '-') {
            return "'" + text +
                   "' is not a host name (labels of 1 to 63 characters, "
                   "not starting or ending with '-', joined by '.')";
          }
          for (unsigned char c : label) {
            if (!std::isalnum(c) && c != '-') {
              return "'" + text +
                     "' is not a host name (only letters, "
                     "digits, '-' and '.')";
            }
          }
          start = dot + 1;
        }
        return "";
      },
      "HOST", "host name");
}

const CLI::Validator MemberName(
    [](std::string& text) -> std::string {
      if (text.empty()) return "an empty name is not allowed";
      if (text.size() > 256) {
        return "a name of " + std::to_string(text.size()) +
               " bytes is longer than the limit of 256";
      }
      for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
          return "a name may not hold control characters (newline, tab, "
                 "escape)";
        }
      }
      if (text.front() == ' ' || text.back() == ' ') {
        return "a name may not start or end with a space";
      }
      return "";
    },
    "NAME", "member name");

const CLI::Validator GroupLabel(
    [](std::string& text) -> std::string {
      if (text.size() > 255) {
        return "a label of " + std::to_string(text.size()) +
               " bytes is longer than the limit of 255";
      }
      for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
          return "a label may not hold control characters (newline, tab, "
                 "escape)";
        }
      }
      return "";
    },
    "LABEL", "group label");

const CLI::Validator KeyValue(
    [](std::string& text) -> std::string {
      const size_t eq = text.find('=');
      if (eq == std::string::npos) return "'" + text + "' is not KEY=VALUE";
      if (eq == 0 || eq > 64) return "a KEY must be 1 to 64 bytes";
      if (text.size() - eq - 1 > 4096) {
        return "a VALUE longer than the limit of 4096 bytes";
      }
      for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
          return "KEY=VALUE may not hold control characters (newline, tab, "
                 "escape)";
        }
      }
      return "";
    },
    "KEY=VALUE", "key=value");

const CLI::Validator NameValue(
    [](std::string& text) -> std::string {
      const size_t eq = text.find('=');
      if (eq == std::string::npos) return "'" + text + "' is not NAME=VALUE";
      const std::string name = text.substr(0, eq);
      bool ok = !name.empty() && name.size() <= 64 &&
                !(name[0] >= '0' && name[0] <= '9');
      for (char c : name) {
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_');
      }
      if (!ok) {
        return "'" + name +
               "' is not a NAME (letters, digits and _, not first a digit)";
      }
      if (text.size() - eq - 1 > 4096) {
        return "a VALUE longer than the limit of 4096 bytes";
      }
      for (size_t i = eq + 1; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
          return "a VALUE may not hold control characters (newline, tab, "
                 "escape)";
        }
      }
      return "";
    },
    "NAME=VALUE", "name=value");

const CLI::Validator WritableDirectory(
    [](std::string& path) -> std::string {
      if (path.empty()) return "an empty path: a directory is needed";
      struct stat st;
      if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
          return absl::StrCat(path, ": not a directory");
        if (::access(path.c_str(), W_OK | X_OK) != 0) {
          return absl::StrCat(path, ": permission denied (write)");
        }
        return "";
      }
      // A directory that does not exist yet: its parent must be writable.
      std::string trimmed = path;
      while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
      absl::Status s = CheckWritablePath(trimmed, "");
      return s.ok() ? "" : Reason(s);
    },
    "DIR (existing, or its parent writable)", "writable directory");

}  // namespace peerlab
