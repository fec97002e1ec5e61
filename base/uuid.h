// UUID text helpers.
#ifndef PEERLAB_BASE_UUID_H_
#define PEERLAB_BASE_UUID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace peerlab {

// True for the canonical 8-4-4-4-12 hexadecimal form, either case.
bool IsUuid(absl::string_view text);

// A random (version 4) UUID in lower case. Thread-safe.
std::string NewUuid();

}  // namespace peerlab

#endif  // PEERLAB_BASE_UUID_H_
