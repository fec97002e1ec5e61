// Command-line parsing shared by every peerlab binary: one exit code for
// usage errors (2) and validators for the kinds of values our flags take.
#ifndef PEERLAB_BASE_COMMAND_LINE_H_
#define PEERLAB_BASE_COMMAND_LINE_H_

#include <chrono>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "base/host_port.h"

namespace peerlab {

// Exit code of every binary for a usage error (bad flag, bad value).
inline constexpr int kUsageExitCode = 2;

// Parses argv into `app`. Returns std::nullopt when the program should go on;
// otherwise the exit code to return from main: 0 after --help (printed to
// stdout), kUsageExitCode after a usage error (one line naming the problem
// and a hint to --help, on stderr). Never throws.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// A TCP port: 0 ("pick a free one") to 65535.
extern const CLI::Validator PortNumber;
// A TCP port 1..65535 (a port to connect to).
extern const CLI::Validator ConnectPortNumber;

// "HOST:PORT" for a server to listen on: a non-empty host (a name, an IPv4
// address or a bracketed IPv6 address) and a port 0..65535.
extern const CLI::Validator HostPort;
// "HOST:PORT" to connect to: as HostPort, but port 1..65535.
extern const CLI::Validator ConnectHostPort;

// The --timeout SECONDS option of a client of one server (peerlab-health,
// peerlab-control, peerlab-ctl's commands): a number in
// 0.001..max_seconds, its default (`*seconds`) shown in --help.
CLI::Option* AddTimeoutOption(CLI::App& app, double* seconds,
                              const std::string& help,
                              double max_seconds = 86400.0);
// The deadline of a call that may take `seconds` (to the microsecond) from
// now, for grpc::ClientContext::set_deadline.
std::chrono::system_clock::time_point DeadlineIn(double seconds);

// ParseHostPort and CheckPort: base/host_port.h.

}  // namespace peerlab

#endif  // PEERLAB_BASE_COMMAND_LINE_H_
