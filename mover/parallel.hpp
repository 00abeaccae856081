// The lanes of the runs that need no flow graph (backup, restore, verify --spool): `jobs`
// workers of the one pool (core/worker_pool.hpp) run `work` at once; the first failure one
// throws requests the cancellation (so every other lane's statement is cancelled and its loop
// ends) and is thrown here once all have returned. A cancellation from outside (Ctrl-C) is
// thrown likewise.
#pragma once

#include <functional>

#include "core/worker_pool.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::mover {

inline void run_in_parallel(int jobs, pg::Cancellation& cancellation, const std::function<void()>& work) {
  run_workers(jobs, [&](int) { work(); },
              [&](const std::exception_ptr& failure) { cancellation.request(what_of(failure)); });
  if (cancellation.requested()) throw cancellation.error();
}

}  // namespace pgblit::mover
