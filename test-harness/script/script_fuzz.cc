// Fuzz target for the script parser: any input either parses into a script
// whose every step names a line of the input, or fails with errors that each
// name NAME:LINE. With clang and -DPEERLAB_FUZZ=ON this is a libFuzzer
// binary (script_fuzz); script_test runs it on generated inputs in every
// build.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "test-harness/script/script.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto script = peerlab::harness::ParseScript("fuzz.cmd", text);
  if (script.ok()) {
    int lines = 1;
    for (char c : text) lines += c == '\n';
    for (const auto& step : script->steps) {
      if (step.line < 1 || step.line > lines) std::abort();
    }
    if (script->steps.empty()) std::abort();
    // The whole-script checks take any parsed script.
    peerlab::harness::ScriptContext context;
    context.views = {"messagesView", "outputView", "logView"};
    (void)peerlab::harness::CheckScript(*script, context);
  } else {
    for (absl::string_view e :
         absl::StrSplit(script.status().message(), '\n')) {
      if (!absl::StartsWith(e, "fuzz.cmd:")) std::abort();
    }
  }
  return 0;
}
