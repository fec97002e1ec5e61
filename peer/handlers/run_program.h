// Runs one handler program without a shell, through the one spawning
// helper (base/spawn_program.h): an argv, the inherited environment plus
// the given variables, `input` on standard input, standard output kept
// (bounded) and the first part of standard error kept for the log; its
// process group is killed at the deadline or when `cancel` becomes true.
// Blocks the calling thread until the program has ended and been reaped:
// call it on a worker thread (HandlerRunner), never on a protocol loop.
#ifndef PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_
#define PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "base/spawn_program.h"

namespace peerlab::handlers {

// What to run and what came of it: the shared spawning helper's types
// (base/spawn_program.h), which this runner's defaults (10 s, 64 KiB of
// output, 4 KiB of error) are.
using ProgramRun = ::peerlab::ProgramRun;
using ProgramResult = ::peerlab::ProgramResult;

// Runs `run` (SpawnProgram). `cancel` (optional) is polled every few
// milliseconds. Thread-safe (each call is independent).
ProgramResult RunProgram(const ProgramRun& run,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace peerlab::handlers

#endif  // PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_
