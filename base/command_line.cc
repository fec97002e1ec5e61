#include "base/command_line.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/option_checks.h"

namespace peerlab {

namespace {

// For an app with subcommands: "unknown subcommand "X"; valid: a, b" when
// the first word that is neither an option nor an option's value is no
// subcommand; "a subcommand is needed: a, b" when there is no such word;
// empty when the word is a known subcommand (the error is about something
// else) or the app has no subcommands.
std::string UnknownSubcommand(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  if (names.empty()) return "";
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") break;
    if (!word.empty() && word[0] == '-') {
      // An option: skip its value when it takes one and has no '='.
      if (word.find('=') == std::string::npos) {
        const CLI::Option* opt = app.get_option_no_throw(word);
        if (opt != nullptr && opt->get_items_expected_min() > 0) ++i;
      }
      continue;
    }
    for (const auto& n : names) {
      if (n == word) return "";
    }
    return "unknown subcommand \"" + word + "\"; valid: " + valid;
  }
  return "a subcommand is needed; valid: " + valid;
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string name = app.get_name();
    if (name.empty() && argc > 0) {
      name = argv[0];
      size_t slash = name.rfind('/');
      if (slash != std::string::npos) name = name.substr(slash + 1);
    }
    std::string what = e.what();
    // A missing or misspelled subcommand surfaces as "required" or
    // "extras"; other errors (a bad value) keep their own message.
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
        dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      if (std::string sub = UnknownSubcommand(app, argc, argv); !sub.empty()) {
        what = sub;
      }
    }
    std::cerr << name << ": " << what << "\n"
              << "Run with --help for the options and their values.\n";
    return kUsageExitCode;
  }
  return std::nullopt;
}

const CLI::Validator PortNumber(
    [](std::string& text) { return CheckPort(text, 0); }, "PORT 0..65535",
    "port");
const CLI::Validator ConnectPortNumber(
    [](std::string& text) { return CheckPort(text, 1); }, "PORT 1..65535",
    "connect port");
const CLI::Validator HostPort(
    [](std::string& text) -> std::string {
      auto port = ParseHostPort(text, 0);
      return port.ok() ? "" : std::string(port.status().message());
    },
    "HOST:PORT", "host:port");
const CLI::Validator ConnectHostPort(
    [](std::string& text) -> std::string {
      auto port = ParseHostPort(text, 1);
      return port.ok() ? "" : std::string(port.status().message());
    },
    "HOST:PORT", "connect host:port");

CLI::Option* AddTimeoutOption(CLI::App& app, double* seconds,
                              const std::string& help, double max_seconds) {
  return app.add_option("--timeout", *seconds, help)
      ->check(Range(0.001, max_seconds))
      ->capture_default_str();
}

std::chrono::system_clock::time_point DeadlineIn(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

}  // namespace peerlab
