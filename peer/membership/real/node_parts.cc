#include "peer/membership/real/node_parts.h"

#include <sys/stat.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace peerlab::membership {

absl::StatusOr<GossipKey> LoadGossipKey(const std::string& keyfile,
                                        bool insecure,
                                        absl::string_view node_name,
                                        const GossipKeyNames& names,
                                        runtime::Logger* logger) {
  const runtime::ComponentLog log(logger, "membership");
  GossipKey out;
  if (!keyfile.empty()) {
    auto loaded = Keyring::Load(keyfile);
    if (!loaded.ok()) {
      return absl::Status(
          loaded.status().code(),
          absl::StrCat(names.keyfile, ": ", loaded.status().message()));
    }
    out.keyring = *std::move(loaded);
    out.file = keyfile;
    out.source = keyfile;
    struct stat st;
    if (::stat(keyfile.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      // Whoever reads it joins the group and reads its gossip.
      log.Warn(names.keyfile, " ", keyfile,
               " is readable or writable by other users (mode ",
               absl::StrFormat("%04o", st.st_mode & 07777),
               "): they can join the group and read its gossip; run: chmod "
               "600 ",
               keyfile);
    }
    return out;
  }
  if (insecure) {
    log.Warn("membership node ", std::string(node_name), ": ", names.insecure,
             ": gossip is unencrypted and unauthenticated (anyone who reaches "
             "the ports can read the member list and forge members)");
    return out;
  }
  // Secure with no set-up: every node of this user shares one group key.
  const std::string hint =
      absl::StrCat(" (set ", names.keyfile, ", or ", names.insecure, ")");
  auto path = UserKeyFilePath();
  if (!path.ok()) {
    return absl::Status(
        path.status().code(),
        absl::StrCat("gossip group key: ", path.status().message(), hint));
  }
  auto loaded = Keyring::LoadOrCreate(*path);
  if (!loaded.ok()) {
    return absl::Status(
        loaded.status().code(),
        absl::StrCat("gossip group key: ", loaded.status().message(), hint));
  }
  out.keyring = *std::move(loaded);
  out.file = *path;
  out.source = absl::StrCat("the per-user group key ", *path);
  return out;
}

NodeParts::~NodeParts() {
  if (node) node->Shutdown();
  node.reset();
  mux.reset();
  kv.reset();
  transport.reset();
}

absl::StatusOr<std::unique_ptr<NodeParts>> MakeNodeParts(
    runtime::Scheduler* scheduler, NodePartsOptions options) {
  Config& config = options.config;
  const runtime::ComponentLog log(config.logger, "membership", scheduler);
  if (options.transport.logger == nullptr) {
    options.transport.logger = config.logger;
  }
  // No keyring only when insecure gossip was asked for (LoadGossipKey).
  config.insecure_gossip = !options.key.keyring.has_value();
  if (auto s = config.Validate(); !s.ok()) return s;
  if (!options.channels.empty()) {
    if (options.delegate != nullptr) {
      return absl::InvalidArgumentError(
          "user-data channels and a delegate of its own: give one or the "
          "other");
    }
    if (options.channels.count(kKvChannel) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "channel ", int{kKvChannel}, " is the key/value store's"));
    }
  }
  // Every node made for the name gets a larger generation than the last,
  // across restarts too (kept in the state directory); without one, the
  // start time (Memberlist's fallback for 0).
  if (config.generation == 0 && !options.state_dir.empty()) {
    auto generation =
        identity::NextGeneration(options.state_dir, config.name, absl::Now());
    if (generation.ok()) {
      config.generation = *generation;
    } else {
      log.Warn("restart generation not kept (", generation.status().message(),
               "): using the start time");
    }
  }
  auto transport = UdpGrpcTransport::Create(scheduler, options.transport);
  if (!transport.ok()) return transport.status();
  auto parts = std::make_unique<NodeParts>();
  parts->transport = *std::move(transport);
  Delegate* delegate = options.delegate;
  if (delegate == nullptr) {
    NodeParts* p = parts.get();  // the mux and store die before the node
    parts->mux = std::make_unique<DelegateMux>(
        [p](std::string payload, const std::string& key) {
          if (p->node) p->node->Broadcast(std::move(payload), key);
        });
    parts->mux->set_log(log);
    parts->kv = std::make_unique<KvStore>(config.name,
                                          parts->mux->SenderFor(kKvChannel));
    parts->kv->set_log(log);
    (void)parts->mux->Register(kKvChannel, parts->kv.get());
    for (const auto& [channel, component] : options.channels) {
      if (auto s = parts->mux->Register(channel, component); !s.ok()) return s;
    }
    delegate = parts->mux.get();
  }
  const std::string name = config.name;
  parts->node = std::make_unique<Memberlist>(
      std::move(config), scheduler, parts->transport.get(),
      std::random_device{}(), options.events, delegate);
  if (options.node_key) (void)parts->node->SetNodeKey(*options.node_key);
  if (options.key.keyring) {
    (void)parts->node->SetKeyring(*std::move(options.key.keyring));
    // Key operations change the keyring: keep the file in step, so a
    // restarted node still holds the group's keys.
    if (!options.key.file.empty()) {
      parts->node->SetKeyringListener(
          [file = options.key.file, log](const Keyring& ring) {
            if (auto s = ring.Save(file); !s.ok()) {
              log.Error("gossip keyring not saved: ", s.message());
            }
          });
    }
  }
  log.Info("membership node ", name, " created on ",
           parts->transport->LocalAddress(), " (", options.profile,
           parts->node->keyring()
               ? absl::StrCat(", gossip encrypted with ", options.key.source)
               : ", gossip UNENCRYPTED (insecure gossip asked for)",
           ")");
  return parts;
}

}  // namespace peerlab::membership
