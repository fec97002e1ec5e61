// CLI11 validators for the kinds of values peerlab's options take, beside
// the port and address validators of command_line.h. Each refusal names the
// value and what is allowed; CLI11 prefixes the option, and
// ParseCommandLine turns it into one line on stderr and exit code 2, before
// the program starts anything.
//
// Every option of every binary carries one of these (or a CLI11 range or
// set): the options test (base/options_e2e_test.cc) walks every
// binary's --help and fails for an option it has no domain for.
#ifndef PEERLAB_BASE_OPTION_CHECKS_H_
#define PEERLAB_BASE_OPTION_CHECKS_H_

#include <string>

#include "CLI/CLI.hpp"

namespace peerlab {

// The printed form of a bound or a value in range messages: whole numbers
// without a fraction or an exponent ("864000", "4194304"), others in the
// shortest exact-enough decimal form ("0.001", "0.99").
std::string HumanNumber(double value);

// A number in [min, max], both included. The refusal prints human numbers:
// "0 is outside 0.001..864000" (CLI11's own Range printed
// "Value 0 not in range 0.001000 to 864000.000000"), and "'x' is not a
// number". Use it instead of CLI::Range.
CLI::Validator Range(double min, double max);

// trace, debug, info, warn, error, critical or off.
extern const CLI::Validator LogLevel;

// A file the program will create or replace: CheckWritablePath (its
// directory exists and is writable; not a directory). Creates nothing. An
// empty value means "not set" (callers pass "" for "none"), as for
// ReadableFile.
extern const CLI::Validator WritableFile;

// A file the program will read: an existing regular file (its size is
// checked when it is read, with ReadFileBounded).
extern const CLI::Validator ReadableFile;

// A whole number 0 .. 2^64-1 (seeds): digits only, so "-1" does not wrap
// and a number too large is refused instead of saturated.
extern const CLI::Validator Unsigned64;

// Not empty (names, free text).
extern const CLI::Validator NonEmpty;

// A member name: 1..256 bytes, no control characters (a name is printed in
// every log and view, so a newline or an escape sequence in it would forge
// lines), no leading or trailing white space.
extern const CLI::Validator MemberName;

// A membership group label: at most 255 bytes (memberlist's limit), no
// control characters; empty is allowed (no label).
extern const CLI::Validator GroupLabel;

// NAME=VALUE (script parameters): NAME of letters, digits and _, not first a
// digit, at most 64 bytes; VALUE at most 4096 bytes without control
// characters (it may be empty).
extern const CLI::Validator NameValue;

// KEY=TEXT (tags and tag filters: role=web, role=web.*): KEY of 1..64
// bytes without '=' or control characters; TEXT (may be empty) at most 4096
// bytes without control characters.
extern const CLI::Validator KeyValue;

// A file name for peerlab's own use under a directory that must exist and be
// writable (report directories): the directory itself, created if missing
// when its parent exists.
extern const CLI::Validator WritableDirectory;

// A host name other programs dial: a DNS name (labels of letters, digits
// and '-', 1 to 63 characters, not starting or ending with '-', joined by
// '.') or an IPv4 address, at most `max_length` characters.
CLI::Validator HostName(size_t max_length);

}  // namespace peerlab

#endif  // PEERLAB_BASE_OPTION_CHECKS_H_
