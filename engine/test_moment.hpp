// A named moment for the kill/resume tests (tests/integration/mover_resume_test.cpp): with
// PGBLIT_HOLD_AFTER_CHUNKS=k in its environment, a process stops moving data once it has
// committed k chunks (a chunk file whole under its final name, or a chunk's transaction
// committed): each lane that commits a chunk from then on waits there until the run is
// cancelled or the process killed. With one lane exactly k chunks are in when it holds, so a
// test reads that fact (the catalog, the spool's files) and SIGKILLs it then: no sleeps.
// Unset, as always outside tests, this costs one relaxed load per chunk.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "pg/cancellation.hpp"

namespace pgblit::engine {

inline void chunk_committed(pg::Cancellation& cancellation) {
  static const long hold_after = [] {
    const char* value = std::getenv("PGBLIT_HOLD_AFTER_CHUNKS");
    return value ? std::strtol(value, nullptr, 10) : 0L;
  }();
  static std::atomic<long> committed{0};
  if (hold_after <= 0 || ++committed < hold_after) return;
  while (!cancellation.requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace pgblit::engine
