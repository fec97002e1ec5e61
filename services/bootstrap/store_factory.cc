#include "services/bootstrap/store_factory.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/file_store.h"
#include "services/bootstrap/memory_store.h"
#include "services/bootstrap/postgres_store.h"
#include "services/bootstrap/validation.h"

namespace peerlab::bootstrap {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(
    const std::string& spec, const ::bootstrap::v1::Config& initial_config,
    bool follow_symlink) {
  if (spec == "memory:") {
    if (auto s = ValidateConfig(initial_config); !s.ok()) return s;
    return std::make_unique<MemoryStore>(NewDocument(initial_config));
  }
  if (absl::StartsWith(spec, "postgres://") ||
      absl::StartsWith(spec, "postgresql://")) {
    auto store =
        PostgresStore::Open({.uri = spec, .initial_config = initial_config});
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  std::string path = spec;
  if (absl::StartsWith(spec, "file:")) {
    path = spec.substr(5);
  } else if (absl::StrContains(spec, "://") ||
             (spec.find(':') != std::string::npos && spec.find('/') != 0 &&
              spec.find(':') < spec.find('/'))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--store: unknown store \"", spec,
                     "\" (want file:PATH, memory: or postgres://...)"));
  }
  auto store = FileStore::Open({.path = path,
                                .initial_config = initial_config,
                                .follow_symlink = follow_symlink});
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace peerlab::bootstrap
