// "HOST:PORT" and port numbers as every peerlab option and server takes
// them. absl only (no CLI11): the gRPC server and the command-line
// validators (command_line.h) share it.
#ifndef PEERLAB_BASE_HOST_PORT_H_
#define PEERLAB_BASE_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"

namespace peerlab {

// "" when `text` is a port number min_port..65535, else why not ("port
// 'x' is not a number", "port 99999 is outside 0..65535").
std::string CheckPort(const std::string& text, int min_port);

// The port of "HOST:PORT" (see HostPort), or InvalidArgument naming the
// problem ("no port", "port 99999 is outside 0..65535"). `min_port` is 0 for
// listening and 1 for connecting.
absl::StatusOr<int> ParseHostPort(const std::string& address, int min_port);

}  // namespace peerlab

#endif  // PEERLAB_BASE_HOST_PORT_H_
