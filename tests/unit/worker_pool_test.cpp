// The one worker pool: every worker gets a thread of its own even when all block (more
// workers than cores), the first failure wins and is seen at once, collect-all keeps them all.
#include "core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <stdexcept>
#include <string>

namespace pgblit {
namespace {

// Workers that cannot finish until all have started (as the estimate probe's lanes): only
// true concurrency lets this end. Far more workers than this machine has cores.
TEST(WorkerPoolTest, every_worker_runs_at_once_even_when_all_block) {
  constexpr int kWorkers = 16;
  std::barrier all_started(kWorkers);
  std::atomic<int> done{0};
  run_workers(kWorkers, [&](int) {
    all_started.arrive_and_wait();
    ++done;
  });
  EXPECT_EQ(done, kWorkers);
}

// A pool inside a worker of another (the finisher's verification read inside the copy): both
// block at once without starving each other.
TEST(WorkerPoolTest, nested_pools_do_not_starve_each_other) {
  constexpr int kOuter = 4, kInner = 4;
  std::barrier outer_started(kOuter);
  std::atomic<int> inner_done{0};
  run_workers(kOuter, [&](int) {
    outer_started.arrive_and_wait();
    std::barrier inner_started(kInner);
    run_workers(kInner, [&](int) {
      inner_started.arrive_and_wait();
      ++inner_done;
    });
  });
  EXPECT_EQ(inner_done, kOuter * kInner);
}

TEST(WorkerPoolTest, first_failure_wins_is_seen_at_once_and_others_finish) {
  std::atomic<bool> cancelled{false};
  std::atomic<int> finished{0};
  std::string hook_saw;
  try {
    run_workers(
        3,
        [&](int worker) {
          if (worker == 1) throw std::runtime_error("lane 1 failed");
          while (!cancelled) std::this_thread::yield();  // as a lane blocked until cancelled
          ++finished;
        },
        [&](const std::exception_ptr& failure) {
          hook_saw = what_of(failure);
          cancelled = true;
        });
    FAIL() << "the failure was not rethrown";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "lane 1 failed");
  }
  EXPECT_EQ(hook_saw, "lane 1 failed");
  EXPECT_EQ(finished, 2);  // every other worker returned before the failure was rethrown
}

TEST(WorkerPoolTest, collect_all_returns_every_failure_and_runs_every_task) {
  WorkerPool pool(2, OnFailure::CollectAll);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    pool.run([&, i] {
      ++ran;
      if (i % 3 == 0) throw std::runtime_error("task " + std::to_string(i));
    });
  }
  auto failures = pool.wait();
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(failures.size(), 4u);  // 0, 3, 6, 9
}

TEST(WorkerPoolTest, at_most_workers_tasks_run_at_once) {
  WorkerPool pool(3);
  std::atomic<int> running{0}, most{0};
  for (int i = 0; i < 30; ++i) {
    pool.run([&] {
      int now = ++running;
      for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      std::this_thread::yield();
      --running;
    });
  }
  pool.wait();
  EXPECT_LE(most, 4);  // the workers, and the waiting thread that may lend a hand
}

}  // namespace
}  // namespace pgblit
