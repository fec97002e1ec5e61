#include "test-harness/report/proto_json.h"

#include "absl/strings/escaping.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace peerlab::harness {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::util::TimeUtil;
using Json = ::nlohmann::ordered_json;

Json MessageJson(const Message& m);

// One value of `f` in `m`: element `i` of a repeated field, or the
// singular value when `i` < 0.
Json FieldValue(const Message& m, const FieldDescriptor* f, int i) {
  const Reflection* r = m.GetReflection();
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number =
          rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      if (const auto* v = f->enum_type()->FindValueByNumber(number)) {
        return v->name();
      }
      return number;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        return absl::Base64Escape(s);
      }
      return s;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageJson(rep ? r->GetRepeatedMessage(m, f, i)
                             : r->GetMessage(m, f));
  }
  return nullptr;
}

// A map key as JSON wants it: text.
std::string KeyText(const Message& entry, const FieldDescriptor* key) {
  Json k = FieldValue(entry, key, -1);
  return k.is_string() ? k.get<std::string>() : k.dump();
}

Json MessageJson(const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp t;
    t.CopyFrom(m);
    return TimeUtil::ToString(t);
  }
  if (type == "google.protobuf.Duration") {
    google::protobuf::Duration d;
    d.CopyFrom(m);
    return TimeUtil::ToString(d);
  }
  const Reflection* r = m.GetReflection();
  Json out = Json::object();
  const auto* descriptor = m.GetDescriptor();
  for (int n = 0; n < descriptor->field_count(); ++n) {
    const FieldDescriptor* f = descriptor->field(n);
    if (f->is_map()) {
      Json map = Json::object();
      const auto* key = f->message_type()->map_key();
      const auto* value = f->message_type()->map_value();
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        map[KeyText(entry, key)] = FieldValue(entry, value, -1);
      }
      out[f->name()] = std::move(map);
    } else if (f->is_repeated()) {
      Json list = Json::array();
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        list.push_back(FieldValue(m, f, i));
      }
      out[f->name()] = std::move(list);
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ||
               f->containing_oneof() != nullptr) {
      // Unset messages and oneof members are left out, as the mapping does.
      if (r->HasField(m, f)) out[f->name()] = FieldValue(m, f, -1);
    } else {
      out[f->name()] = FieldValue(m, f, -1);
    }
  }
  return out;
}

}  // namespace

std::string ProtoJson(const Message& message) {
  return MessageJson(message).dump(2, ' ', false,
                                   Json::error_handler_t::replace) +
         "\n";
}

}  // namespace peerlab::harness
