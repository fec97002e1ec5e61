// Opens a Store from its `--store` spec.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_STORE_FACTORY_H_
#define PEERLAB_SERVICES_BOOTSTRAP_STORE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

// "file:PATH" (the default kind; a bare path means the same), "memory:", or
// a PostgreSQL URI "postgres://..." / "postgresql://..." (PostgresStore,
// default options).
// `initial_config` applies only to a store that is created. InvalidArgument
// for an unknown kind; the store's own error when it cannot open.
// `follow_symlink`: a file store's PATH may be a symbolic link (refused
// otherwise; see file_store.h).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(
    const std::string& spec, const ::bootstrap::v1::Config& initial_config,
    bool follow_symlink = false);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_STORE_FACTORY_H_
