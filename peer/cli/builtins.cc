#include "peer/cli/builtins.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "peer/cli/parser.h"
#include "peer/cli/shell_runner.h"
#include "base/bounded_file.h"
#include "base/escape.h"

namespace peerlab::cli {
namespace {

// `log on FILE` / `log off`. With a ViewHub: FILE gets every line of every
// view, as the terminal shows them (command output, messages, and the logs
// that reach logView). Without one: the program's LogControl logs to FILE.
// Either way lines are escaped (EscapeControl). Thread-safe.
class LogFileControl {
 public:
  LogFileControl(ViewHub* hub, LogControl* control)
      : hub_(hub), control_(control) {}
  ~LogFileControl() { Off(); }

  absl::Status On(const std::string& path) {
    Off();
    std::lock_guard<std::mutex> lock(mu_);
    if (hub_ == nullptr && control_ == nullptr) return NoControl("log on");
    // Opened without blocking, and only a regular file or a character
    // device: a FIFO would block this command (and then every view).
    absl::StatusOr<int> fd = OpenForAppend(path, "log on");
    if (!fd.ok()) return fd.status();
    if (hub_ != nullptr) {
      std::FILE* f = ::fdopen(*fd, "a");
      if (f == nullptr) {
        ::close(*fd);
        return absl::FailedPreconditionError(
            absl::StrCat("cannot log to ", path, ": ", std::strerror(errno)));
      }
      auto file = std::shared_ptr<std::FILE>(f, &std::fclose);
      // Runs under the hub's lock: lines arrive whole and in order.
      watch_ = hub_->Watch({}, [file](const ViewLine& line) {
        std::string text = FormatViewLine(line);
        text.push_back('\n');
        std::fwrite(text.data(), 1, text.size(), file.get());
        std::fflush(file.get());
      });
      path_ = path;
      return absl::OkStatus();
    }
    ::close(*fd);
    if (auto s = control_->FileOn(path); !s.ok()) return s;
    file_on_ = true;
    path_ = path;
    return absl::OkStatus();
  }
  void Off() {
    std::lock_guard<std::mutex> lock(mu_);
    if (watch_ != 0) {
      hub_->Unwatch(watch_);  // closes the file (the watcher held it)
      watch_ = 0;
    }
    if (file_on_) {
      control_->FileOff();
      file_on_ = false;
    }
    path_.clear();
  }

  // FailedPrecondition: this program gave the CLI no LogControl.
  static absl::Status NoControl(absl::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": this program's logging cannot be changed here"));
  }

 private:
  ViewHub* const hub_;
  LogControl* const control_;
  std::mutex mu_;
  int watch_ = 0;
  bool file_on_ = false;
  std::string path_;
};

// "unknown subcommand "x" of CMD; valid: a, b".
absl::Status UnknownSubcommand(absl::string_view command, absl::string_view got,
                               const std::vector<std::string>& valid) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"", got, "\" of ", command,
                   "; valid: ", absl::StrJoin(valid, ", ")));
}

void HelpOverview(const Registry& registry, Output& out) {
  for (const std::string& group : registry.Groups()) {
    std::vector<std::string> names;
    for (const Command& c : registry.Commands()) {
      if (c.group == group) names.push_back(c.name);
    }
    out.Print(absl::StrCat(group, ": ", absl::StrJoin(names, " ")));
  }
  out.Print(
      "help COMMAND for details, help groups [GROUP] for summaries; a leading "
      "/ is optional");
}

absl::Status Help(const Registry& registry, const Call& call, Output& out) {
  if (call.args.empty()) {
    HelpOverview(registry, out);
    return absl::OkStatus();
  }
  if (call.args[0] == "groups") {
    std::vector<std::string> groups = registry.Groups();
    if (call.args.size() == 1) {
      for (const std::string& g : groups) out.Print(g);
      return absl::OkStatus();
    }
    const std::string& group = call.args[1];
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) {
      return absl::NotFoundError(
          absl::StrCat("unknown group \"", group,
                       "\"; groups: ", absl::StrJoin(groups, ", ")));
    }
    for (const Command& c : registry.Commands()) {
      if (c.group == group) {
        out.Print(absl::StrFormat("%-28s %s", c.usage, c.summary));
      }
    }
    return absl::OkStatus();
  }
  std::string name = call.args[0];
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  std::optional<Command> c = registry.Find(name);
  if (!c.has_value()) {
    std::vector<std::string> close = registry.Suggest(name);
    return absl::NotFoundError(absl::StrCat(
        "unknown command \"", name, "\"",
        close.empty() ? ""
                      : absl::StrCat("; did you mean: ",
                                     absl::StrJoin(close, ", "), "?")));
  }
  out.Print(absl::StrCat("usage: ", c->usage));
  out.Print(absl::StrCat("group: ", c->group));
  out.Print(c->summary);
  if (!c->help.empty()) out.Print(c->help);
  return absl::OkStatus();
}

// Finds a script: as given, else under scripts/ (where the original kept
// them).
std::string ResolveScript(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path;
  std::string alt = (std::filesystem::path("scripts") / path).string();
  if (std::filesystem::exists(alt, ec)) return alt;
  return path;
}

}  // namespace

absl::Status ExecuteScript(const Registry& registry, const std::string& path,
                           Output& out, int depth, int max_depth, bool remote) {
  if (depth >= max_depth) {
    return absl::FailedPreconditionError(
        absl::StrCat("execute ", path, ": scripts nested deeper than ",
                     max_depth, " (a script that runs itself?)"));
  }
  std::string resolved = ResolveScript(path);
  // A regular file of bounded size: a folder or a device is refused.
  absl::StatusOr<std::string> text =
      ReadFileBounded(resolved, kMaxScriptFileBytes, "execute");
  if (!text.ok()) return text.status();
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++number;
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    absl::Status s = registry.Execute(trimmed, out, depth + 1, remote);
    if (!s.ok()) {
      // Nested scripts already name their own file:line first.
      return absl::Status(
          s.code(), absl::StrCat(resolved, ":", number, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status RegisterBuiltins(const BuiltinsEnv& env,
                              BuiltinSettings* settings) {
  Registry* registry = env.registry;
  ConfigRegistry* config = env.config;
  auto log_file = std::make_shared<LogFileControl>(env.views, env.log_control);
  const int max_depth = env.max_script_depth;

  std::vector<Command> commands = {
      {.name = "help",
       .group = "cli",
       .usage = "help [groups [GROUP] | COMMAND]",
       .summary = "lists commands, groups, or one command's help",
       .max_args = 2,
       .completion = Completion::kCommand,
       .handler = [registry](
                      const Call& call,
                      Output& out) { return Help(*registry, call, out); }},
      {.name = "echo",
       .group = "script",
       .usage = "echo TEXT",
       .summary = "prints TEXT",
       .handler =
           [](const Call& call, Output& out) {
             out.Print(absl::StrJoin(call.args, " "));
             return absl::OkStatus();
           }},
      {.name = "sleep",
       .group = "script",
       .usage = "sleep SECONDS",
       .summary = "waits (fractions allowed: sleep 0.25)",
       .min_args = 1,
       .max_args = 1,
       .handler = [cancel = env.cancel](const Call& call,
                                        Output&) -> absl::Status {
         auto d = call.Seconds(0, "SECONDS");
         if (!d.ok()) return d.status();
         if (cancel == nullptr) {
           absl::SleepFor(*d);
         } else if (cancel->WaitFor(*d)) {
           return absl::CancelledError(
               absl::StrCat("sleep cancelled: ", cancel->reason()));
         }
         return absl::OkStatus();
       }},
      {.name = "execute",
       .group = "script",
       .usage = "execute FILE",
       .summary = "runs the commands in FILE, stopping at the first failure",
       .help = "Blank lines and lines starting with # are skipped. A failing "
               "line stops the script; the error names FILE:LINE. Scripts may "
               "execute scripts, up to a nesting depth of 8. A FILE that does "
               "not exist is also looked for under scripts/. Remote callers "
               "may be refused with execute.allow_remote=false.",
       .min_args = 1,
       .max_args = 1,
       .completion = Completion::kFile,
       .handler = [registry, max_depth, settings, config](
                      const Call& call, Output& out) -> absl::Status {
         if (call.remote) {
           bool allow_remote;
           {
             auto lock = config->Lock();
             allow_remote = settings->allow_remote_execute;
           }
           if (!allow_remote) {
             return absl::PermissionDeniedError(
                 "execute is refused to remote callers "
                 "(execute.allow_remote)");
           }
         }
         return ExecuteScript(*registry, call.args[0], out, call.depth,
                              max_depth, call.remote);
       }},
      {.name = "shell",
       .group = "script",
       .usage = "shell [-c] PROGRAM [ARGS...]",
       .summary = "runs a program and shows its output; its exit status is "
                  "the command's",
       .help = "Runs PROGRAM directly, without a shell. With -c the rest of "
               "the line is given to /bin/sh -c (pipes, redirections). "
               "Output (stdout and stderr) goes to outputView line by line. "
               "The program is killed after shell.timeout (default 60s). "
               "Remote callers may be refused with shell.allow_remote=false.",
       .min_args = 1,
       .completion = Completion::kFile,
       .handler = [settings, config, cancel = env.cancel](
                      const Call& call, Output& out) -> absl::Status {
         absl::Duration timeout;
         bool allow_remote;
         {
           auto lock = config->Lock();
           timeout = settings->shell_timeout;
           allow_remote = settings->allow_remote_shell;
         }
         if (call.remote && !allow_remote) {
           return absl::PermissionDeniedError(
               "shell is refused to remote callers (shell.allow_remote)");
         }
         std::vector<std::string> argv = call.args;
         if (argv[0] == "-c") {
           if (argv.size() < 2) {
             return absl::InvalidArgumentError(
                 "usage: shell [-c] PROGRAM [ARGS...]");
           }
           std::vector<std::string> words(argv.begin() + 1, argv.end());
           argv = {"/bin/sh", "-c", absl::StrJoin(words, " ")};
         }
         return RunProgram(
             argv, {.timeout = timeout,
                    .on_line = [&out](const std::string& l) { out.Print(l); },
                    .cancel = cancel});
       }},
      {.name = "log",
       .group = "cli",
       .usage = "log on FILE | log off | log level LEVEL [COMPONENT]",
       .summary = "logs to a file, stops, or sets the level",
       .help = "log on FILE appends to FILE every line of every view, as "
               "the terminal shows them: command output, chat messages, "
               "and the log records (logView), each with its time and view; "
               "control characters are escaped. Levels: trace, debug, info, "
               "warn, error, critical, off. Without COMPONENT the level "
               "applies to every logger.",
       .min_args = 1,
       .max_args = 3,
       .completion = Completion::kFile,
       .handler = [log_file, log_control = env.log_control](
                      const Call& call, Output& out) -> absl::Status {
         const std::string& verb = call.args[0];
         constexpr char kUsage[] =
             "usage: log on FILE | log off | log level LEVEL [COMPONENT]";
         if (verb == "on") {
           if (call.args.size() != 2) return absl::InvalidArgumentError(kUsage);
           if (auto s = log_file->On(call.args[1]); !s.ok()) return s;
           out.Print(absl::StrCat("logging to ", call.args[1]));
           if (log_control != nullptr) {
             log_control->Info(absl::StrCat("logging to ", call.args[1]));
           }
           return absl::OkStatus();
         }
         if (verb == "off") {
           if (call.args.size() != 1) return absl::InvalidArgumentError(kUsage);
           log_file->Off();
           out.Print("file logging off");
           return absl::OkStatus();
         }
         if (verb == "level") {
           if (call.args.size() < 2) return absl::InvalidArgumentError(kUsage);
           auto level = runtime::ParseLogLevel(call.args[1]);
           if (!level.ok()) {
             return absl::InvalidArgumentError(absl::StrCat(
                 "unknown level \"", call.args[1],
                 "\" (trace, debug, info, warn, error, critical, off)"));
           }
           if (log_control == nullptr) {
             return LogFileControl::NoControl("log level");
           }
           const std::string component =
               call.args.size() == 3 ? call.args[2] : std::string();
           if (auto s = log_control->SetLevel(*level, component); !s.ok()) {
             return s;
           }
           out.Print(absl::StrCat("log level ", call.args[1]));
           return absl::OkStatus();
         }
         return UnknownSubcommand("log", verb, {"on", "off", "level"});
       }},
      {.name = "exit",
       .group = "cli",
       .usage = "exit [CODE]",
       .summary = "ends the program, after the same clean leave as quit; "
                  "CODE (default: 1 if a command failed, else 0) is its status",
       .max_args = 1,
       .handler = [request_exit = env.request_exit](const Call& call,
                                                    Output&) -> absl::Status {
         int code = -1;  // the program's default: did every command succeed
         if (!call.args.empty()) {
           auto c = call.Int(0, "CODE");
           if (!c.ok()) return c.status();
           code = static_cast<int>(*c);
         }
         if (!request_exit) {
           return absl::UnimplementedError("exit is not available here");
         }
         request_exit(code);
         return absl::OkStatus();
       }},
      {.name = "set",
       .group = "config",
       .usage = "set KEY VALUE",
       .summary = "changes a setting (show config lists them)",
       .min_args = 2,
       .handler = [config](const Call& call, Output& out) -> absl::Status {
         std::string value = call.args[1];
         for (size_t i = 2; i < call.args.size(); ++i) {
           absl::StrAppend(&value, " ", call.args[i]);
         }
         if (auto s = config->Set(call.args[0], value, call.remote); !s.ok()) {
           return s;
         }
         out.Print(absl::StrCat(call.args[0], " = ",
                                config->Get(call.args[0]).value_or("")));
         if (std::string note = config->Notice(call.args[0]); !note.empty()) {
           out.Print(note);
         }
         return absl::OkStatus();
       }},
      {.name = "show",
       .group = "config",
       .usage = "show config",
       .summary = "lists every setting with its value",
       .min_args = 1,
       .max_args = 1,
       .handler = [config](const Call& call, Output& out) -> absl::Status {
         if (call.args[0] != "config") {
           return UnknownSubcommand("show", call.args[0], {"config"});
         }
         auto rows = config->Rows();
         if (rows.empty()) out.Print("no settings are registered");
         for (const auto& row : rows) {
           out.Print(absl::StrFormat("%-36s %-16s %s", row.name, row.value,
                                     row.help));
         }
         return absl::OkStatus();
       }},
      {.name = "saveconfig",
       .group = "config",
       .usage = "saveconfig [FILE]",
       .summary = "writes every setting to a JSON file",
       .max_args = 1,
       .completion = Completion::kFile,
       .handler = [config, file = env.default_config_file](
                      const Call& call, Output& out) -> absl::Status {
         std::string path = call.args.empty() ? file : call.args[0];
         if (auto s = config->SaveFile(path); !s.ok()) return s;
         out.Print(absl::StrCat("saved config to ", path));
         return absl::OkStatus();
       }},
      {.name = "loadconfig",
       .group = "config",
       .usage = "loadconfig FILE",
       .summary = "reads settings from a JSON file (all or nothing)",
       .min_args = 1,
       .max_args = 1,
       .completion = Completion::kFile,
       .handler = [config](const Call& call, Output& out) -> absl::Status {
         absl::StatusOr<std::string> text =
             ReadFileBounded(call.args[0], kMaxConfigFileBytes, "loadconfig");
         if (!text.ok()) return text.status();
         // The local_only keys (allow_remote) are refused to remote callers
         // on the parsed keys, whatever their spelling in the file.
         if (auto s = config->LoadJson(*text, call.remote); !s.ok()) {
           return absl::Status(s.code(),
                               absl::StrCat(call.args[0], ": ", s.message()));
         }
         out.Print(absl::StrCat("loaded config from ", call.args[0]));
         return absl::OkStatus();
       }},
  };
  for (Command& c : commands) {
    if (auto s = registry->Register(std::move(c)); !s.ok()) return s;
  }
  if (auto s = config->AddDuration(
          "shell.timeout", "how long shell lets a program run",
          &settings->shell_timeout, absl::Milliseconds(1));
      !s.ok()) {
    return s;
  }
  if (auto s = config->AddBool("shell.allow_remote",
                               "whether remote callers may run shell",
                               &settings->allow_remote_shell);
      !s.ok()) {
    return s;
  }
  if (auto s =
          config->AddBool("execute.allow_remote",
                          "whether remote callers may run scripts (execute)",
                          &settings->allow_remote_execute);
      !s.ok()) {
    return s;
  }
  if (auto s = config->AddBool(
          "lab.allow_programs",
          "whether the harness coordinator may run shell and execute here "
          "(the owner's choice; the local lab turns it on for its peers)",
          &settings->allow_lab_programs);
      !s.ok()) {
    return s;
  }
  // Remote callers change neither lock, by any path (set, loadconfig, a
  // script they execute).
  for (const char* key : {"shell.allow_remote", "execute.allow_remote"}) {
    if (auto s = config->MarkLocalOnly(key); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::cli
