#include "peer/app/member_meta.h"

#include "absl/strings/str_split.h"

namespace peerlab::peer {

std::string EncodeMeta(const MetaFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (value.empty()) continue;
    if (!out.empty()) out += ';';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

MetaFields DecodeMeta(absl::string_view meta) {
  MetaFields fields;
  for (absl::string_view part : absl::StrSplit(meta, ';', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos || eq == 0) continue;
    fields[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
  }
  return fields;
}

std::string MetaField(absl::string_view meta, const std::string& key) {
  MetaFields fields = DecodeMeta(meta);
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

}  // namespace peerlab::peer
