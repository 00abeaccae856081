// A named moment for the kill/resume tests (tests/integration/mover_resume_test.cpp): with
// PGBLIT_HOLD_AFTER_CHUNKS=k in its environment, a process stops moving data once it has
// committed k chunks (a chunk file whole under its final name, or a chunk's transaction
// committed): each lane that commits a chunk from then on waits there until the run is
// cancelled or the process killed. With one lane exactly k chunks are in when it holds, so a
// test reads that fact (the catalog, the spool's files) and SIGKILLs it then: no sleeps.
// Unset, as always outside tests, this costs one comparison per chunk or rebuild. Header-only and generic over the
// cancellation so that every floor can name a moment.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace pgblit::core {

// PGBLIT_HOLD_RELEASE=file: a hold also ends once that file exists, and the run goes on (a
// test acts on the servers at the moment, then lets the run finish).
inline bool hold_released() {
  static const char* file = std::getenv("PGBLIT_HOLD_RELEASE");
  return file && std::filesystem::exists(file);
}

// Holds the calling thread once `passed` reaches `limit` (0: never), until the run is cancelled
// or the hold released.
template <class Cancellation>
inline void hold_at(long limit, std::atomic<long>& passed, const Cancellation& cancellation) {
  if (limit <= 0 || ++passed < limit) return;
  while (!cancellation.requested() && !hold_released()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

inline long moment_limit(const char* variable) {
  const char* value = std::getenv(variable);
  return value ? std::strtol(value, nullptr, 10) : 0L;
}

template <class Cancellation>
inline void chunk_committed(const Cancellation& cancellation) {
  static const long limit = moment_limit("PGBLIT_HOLD_AFTER_CHUNKS");
  static std::atomic<long> committed{0};
  hold_at(limit, committed, cancellation);
}

// PGBLIT_HOLD_AFTER_REBUILDS=k: likewise once this process has rebuilt (and recorded) k
// deferred indexes or constraints; the builds in flight on other sessions finish first.
template <class Cancellation>
inline void object_rebuilt(const Cancellation& cancellation) {
  static const long limit = moment_limit("PGBLIT_HOLD_AFTER_REBUILDS");
  static std::atomic<long> rebuilt{0};
  hold_at(limit, rebuilt, cancellation);
}

// PGBLIT_HOLD_AFTER_REREADS=k: likewise once a resumed copy --follow has read again (and
// committed) the changed rows of k tables (runs/follow_resume.hpp).
template <class Cancellation>
inline void table_reread(const Cancellation& cancellation) {
  static const long limit = moment_limit("PGBLIT_HOLD_AFTER_REREADS");
  static std::atomic<long> reread{0};
  hold_at(limit, reread, cancellation);
}

}  // namespace pgblit::core
