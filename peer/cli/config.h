// ConfigRegistry: settings that components register and users change with
// `set KEY VALUE`, `show config`, `saveconfig [FILE]` and `loadconfig FILE`.
//
//   int64_t port = 7946;
//   config.AddInt("memberlist.bind_port", "UDP/TCP port for gossip", &port,
//                 0, 65535);
//
// Values are stored where the component keeps them (the pointer given at
// registration); the registry validates, converts and applies. Files are
// JSON objects {"key": value}, with numbers and booleans as JSON numbers and
// booleans. Loading is all-or-nothing: every key and value is checked before
// any is applied; keys marked apply_first (a profile that sets the others)
// are applied before the rest, so a saved file loads back to exactly the
// saved values. Files are read with ReadFileBounded (kMaxConfigFileBytes).
//
// Keys marked local_only (security settings such as shell.allow_remote) are
// refused to remote callers (PeerControl) by every path that changes a key:
// Set and LoadJson/LoadFile with remote=true decide on the key as registered
// and parsed (a JSON escape like "allow\u005fremote" names the same key),
// never on the text.
//
// Thread-safe. A component that reads its values from another thread than
// the one calling Set must guard them itself (or read them under Lock()).
#ifndef PEERLAB_PEER_CLI_CONFIG_H_
#define PEERLAB_PEER_CLI_CONFIG_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace peerlab::cli {

class ConfigRegistry {
 public:
  enum class Type { kString, kInt, kDouble, kBool, kDuration };

  struct Key {
    std::string name;
    std::string help;
    Type type;
    // Checks `text` and returns its canonical form; InvalidArgument naming
    // the key otherwise.
    std::function<absl::StatusOr<std::string>(const std::string& text)> parse;
    // Applies a canonical value. Cannot fail.
    std::function<void(const std::string& canonical)> apply;
    // The current value in canonical form.
    std::function<std::string()> get;
    // Applying this key sets others (a profile): LoadJson applies it before
    // every other key of the file, so a file means "this, then the rest".
    bool apply_first = false;
    // Remote callers may not change it (Set/LoadJson with remote=true).
    // Add sets it for every IsSecuritySetting name.
    bool local_only = false;
  };

  // Each Add* registers a key; AlreadyExists if the name is taken.
  // REQUIRES: the target outlives the registry.
  absl::Status Add(Key key);
  absl::Status AddString(const std::string& name, const std::string& help,
                         std::string* target);
  absl::Status AddInt(const std::string& name, const std::string& help,
                      int64_t* target, int64_t min, int64_t max);
  absl::Status AddDouble(const std::string& name, const std::string& help,
                         double* target, double min, double max);
  absl::Status AddBool(const std::string& name, const std::string& help,
                       bool* target);
  // Values like "200ms", "1.5s", "2m" (absl::ParseDuration), at least `min`.
  absl::Status AddDuration(const std::string& name, const std::string& help,
                           absl::Duration* target, absl::Duration min);

  // Whether `name` names a security setting by its last component: allow*
  // (allow_remote, allow_faults), insecure*, label or *_label, or one
  // holding key, token, secret, password, cert, tls, encrypt, auth, trust
  // or pinned (memberlist.keyfile, bootstrap.admin_token_file); or anything
  // under "security.". Add marks such keys local_only itself, so a
  // security setting a component registers later is covered without a
  // MarkLocalOnly call.
  static bool IsSecuritySetting(const std::string& name);

  // Marks a registered key local_only; NotFound if there is none.
  absl::Status MarkLocalOnly(const std::string& name);

  // Sets one key. NotFound for an unknown key (with close names),
  // InvalidArgument for a bad value, PermissionDenied for a local_only key
  // when `remote`; nothing changes then.
  absl::Status Set(const std::string& name, const std::string& value,
                   bool remote = false);
  absl::StatusOr<std::string> Get(const std::string& name) const;

  // A line `set` shows after changing a key whose name starts with
  // `prefix` (e.g. that the value takes effect later); `notice` returns ""
  // for none. It runs without the registry's lock held.
  void AddNotice(const std::string& prefix,
                 std::function<std::string()> notice);
  // The notices for `name` joined by "; ", or "".
  std::string Notice(const std::string& name) const;

  // Sorted (key, value, help) rows for `show config`.
  struct Row {
    std::string name, value, help;
  };
  std::vector<Row> Rows() const;

  // The JSON text of every key, and the reverse. LoadJson refuses unknown
  // keys and bad values, naming the key, and then changes nothing; when
  // `remote`, also (PermissionDenied) a file with any local_only key.
  std::string ToJson() const;
  absl::Status LoadJson(const std::string& json_text, bool remote = false);
  absl::Status SaveFile(const std::string& path) const;
  absl::Status LoadFile(const std::string& path, bool remote = false);

  // Holds the registry's lock: components read their values under it when
  // another thread may be setting them.
  std::unique_lock<std::mutex> Lock() const {
    return std::unique_lock<std::mutex>(mu_);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Key> keys_;
  std::vector<std::pair<std::string, std::function<std::string()>>>
      notices_;  // guarded by mu_
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_CONFIG_H_
