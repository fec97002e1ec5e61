#include "peer/app/keys_commands.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "peer/membership/keyring.h"

namespace peerlab::peer {
namespace {

using membership::KeyOp;

constexpr absl::Duration kDefaultTimeout = absl::Seconds(5);

const char* Verb(KeyOp op) {
  switch (op) {
    case KeyOp::kList:
      return "answered";
    case KeyOp::kInstall:
      return "installed the key";
    case KeyOp::kUse:
      return "now use the key";
    case KeyOp::kRemove:
      return "removed the key";
    case KeyOp::kPurge:
      return "purged the key";
  }
  return "";
}

}  // namespace

KeysReport FormatKeysReport(KeyOp op, const membership::KeyOpResult& result,
                            absl::Duration timeout) {
  KeysReport report;
  if (op == KeyOp::kList) {
    for (const auto& [key, holders] : result.keys) {
      auto primary = result.primary_keys.find(key);
      const int primaries =
          primary == result.primary_keys.end() ? 0 : primary->second;
      report.lines.push_back(absl::StrFormat(
          "%s  held by %d/%d%s", membership::FormatKey(key), holders,
          result.acks,
          primaries > 0 ? absl::StrCat(", primary on ", primaries) : ""));
    }
  }
  for (const auto& [node, error] : result.errors) {
    report.lines.push_back(absl::StrCat(node, " refused: ", error));
  }
  const int applied = result.acks - static_cast<int>(result.errors.size());
  report.lines.push_back(
      absl::StrCat(applied, " of ", result.members, " member(s) ", Verb(op)));
  if (result.acks < result.members) {
    report.status = absl::DeadlineExceededError(absl::StrCat(
        result.members - result.acks, " member(s) did not answer within ",
        absl::FormatDuration(timeout),
        " (down, or unable to decrypt: see `keys list`)"));
  } else if (!result.errors.empty()) {
    std::vector<std::string> names;
    for (const auto& [node, error] : result.errors) names.push_back(node);
    report.status = absl::FailedPreconditionError(
        absl::StrCat("refused by ", absl::StrJoin(names, ", ")));
  }
  return report;
}

cli::Command KeysCommand(KeyOperationRunner run) {
  return {
      .name = "keys",
      .group = "membership",
      .usage =
          "keys list|install KEY|use KEY|remove KEY|purge KEY|generate "
          "[SECONDS]",
      .summary = "gossip encryption keys across the cluster",
      .help =
          "keys list: each key with how many members hold it and use it as "
          "their primary. keys install KEY: every member accepts KEY. keys "
          "use KEY: every member encrypts with KEY (install it everywhere "
          "first). keys remove KEY: every member stops accepting KEY (never "
          "the primary) and keeps it retired for memberlist.retired_key_time, "
          "so members away during the rotation catch up. keys purge KEY: as "
          "remove, and forgotten at once, retired or not: nobody catches up "
          "with it (to expel a member; docs/security.md). keys generate: "
          "prints a new random key. KEY is "
          "base64 (32 bytes), as in the key file (memberlist.keyfile). "
          "SECONDS (default 5) bounds the wait for the members' answers; the "
          "command fails unless every member answered and none refused. "
          "Rotation: keys install NEW; keys use NEW; keys remove OLD.",
      .min_args = 1,
      .max_args = 3,
      .handler = [run](const cli::Call& call,
                       cli::Output& out) -> absl::Status {
        const std::string verb = absl::AsciiStrToLower(call.args[0]);
        if (verb == "generate") {
          if (call.args.size() > 1) {
            return absl::InvalidArgumentError("usage: keys generate");
          }
          out.Print(membership::FormatKey(membership::GenerateKey()));
          return absl::OkStatus();
        }
        KeyOp op;
        size_t want_args;
        if (verb == "list") {
          op = KeyOp::kList;
          want_args = 1;
        } else if (verb == "install") {
          op = KeyOp::kInstall;
          want_args = 2;
        } else if (verb == "use") {
          op = KeyOp::kUse;
          want_args = 2;
        } else if (verb == "remove") {
          op = KeyOp::kRemove;
          want_args = 2;
        } else if (verb == "purge") {
          op = KeyOp::kPurge;
          want_args = 2;
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("keys: unknown operation '", call.args[0],
                           "' (list, install, use, remove, purge, "
                           "generate)"));
        }
        if (call.args.size() < want_args || call.args.size() > want_args + 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("usage: keys ", verb, want_args == 2 ? " KEY" : "",
                           " [SECONDS]"));
        }
        std::string key;
        if (want_args == 2) {
          auto parsed = membership::ParseKey(call.args[1]);
          if (!parsed.ok()) return parsed.status();
          key = *std::move(parsed);
        }
        absl::Duration timeout = kDefaultTimeout;
        if (call.args.size() > want_args) {
          auto t = call.Seconds(want_args, "SECONDS");
          if (!t.ok()) return t.status();
          timeout = *t;
        }
        auto result = run(op, std::move(key), timeout);
        if (!result.ok()) return result.status();
        KeysReport report = FormatKeysReport(op, *result, timeout);
        for (const auto& line : report.lines) out.Print(line);
        return report.status;
      }};
}

}  // namespace peerlab::peer
