// The lanes of the runs that need no flow graph (backup, restore, verify --spool): `jobs`
// threads run `work` at once; the first pgblit::Error one throws requests the cancellation
// (so every other lane's statement is cancelled and its loop ends) and is thrown here once all
// have returned. A cancellation from outside (Ctrl-C) is thrown likewise.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "pg/cancellation.hpp"

namespace pgblit::engine {

inline void run_in_parallel(int jobs, pg::Cancellation& cancellation, const std::function<void()>& work) {
  std::mutex mutex;
  std::optional<Error> failure;
  std::vector<std::thread> lanes;
  for (int i = 0; i < std::max(1, jobs); ++i) {
    lanes.emplace_back([&] {
      try {
        work();
      } catch (const Error& e) {
        std::lock_guard lock(mutex);
        if (!failure) failure = e;
        cancellation.request(e.what());
      }
    });
  }
  for (auto& t : lanes) t.join();
  if (failure) throw *failure;
  if (cancellation.requested()) throw cancellation.error();
}

}  // namespace pgblit::engine
