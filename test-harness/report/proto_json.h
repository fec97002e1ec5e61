// ProtoJson: a protobuf message as JSON for people and scripts: the proto3
// JSON mapping (field names as written in the .proto, every field printed,
// defaults included; unset message fields left out; enums by name;
// google.protobuf.Timestamp and Duration as RFC 3339 text) except that
// 64-bit integers are JSON numbers, not strings. The mapping writes them as
// strings for JavaScript's sake; summary.json is read by scripts (jq,
// Python) that compare numbers. Pure; never throws (text that is not UTF-8
// is written with U+FFFD in its place).
#ifndef PEERLAB_TEST_HARNESS_REPORT_PROTO_JSON_H_
#define PEERLAB_TEST_HARNESS_REPORT_PROTO_JSON_H_

#include <string>

#include "google/protobuf/message.h"

namespace peerlab::harness {

// `message` as indented JSON (2 spaces), ending in a newline.
std::string ProtoJson(const google::protobuf::Message& message);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_REPORT_PROTO_JSON_H_
