#include "peer/handlers/run_program.h"

namespace peerlab::handlers {

ProgramResult RunProgram(const ProgramRun& run,
                         const std::atomic<bool>* cancel) {
  if (cancel == nullptr) return SpawnProgram(run);
  return SpawnProgram(run, [cancel] { return cancel->load(); });
}

}  // namespace peerlab::handlers
