// The one worker pool: everything pgblit runs in parallel (the copy's lanes, backup, restore,
// the verification reads, the rebuild of deferred objects, the dry run's checks and probe, the
// table finisher) runs its workers here, with one rule for failures.
//
// Workers are oneTBB tasks of a task_group inside a task_arena of their own. pgblit's workers
// block in libpq for most of their life, and some wait on each other (a barrier, a queue fed by
// another thread), so each must get a thread of its own however many cores there are: the
// arena has a slot per worker, and the process's TBB thread limit (tbb::global_control) is
// raised to what all live pools ask for together. A pool nested in a worker of another (the
// finisher's verification read) is an arena of its own, so the outer pool's workers are never
// lent to it and neither can starve the other.
//
// Failures: with FirstWins the first exception a worker throws is kept, `on_first_failure` is
// called with it at once (the caller cancels the others' statements there), and wait()
// rethrows it once every worker has returned; with CollectAll every failure is returned.
// Workers not yet started still start (and see the caller's cancellation): some wait on each
// other (a barrier), so none may be left out.
#pragma once

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pgblit {

enum class OnFailure { FirstWins, CollectAll };

namespace detail {

// The process's TBB thread limit, raised (never lowered) to the threads that all live pools'
// workers need, besides the cores TBB uses for itself (the copy's flow graph).
class ThreadBudget {
 public:
  static ThreadBudget& instance() {
    static ThreadBudget* budget = new ThreadBudget;  // never destroyed: pools may outlive statics
    return *budget;
  }
  void take(int workers) {
    std::lock_guard lock(mutex_);
    demand_ += workers;
    int wanted = base_ + demand_ + 1;
    if (wanted <= limit_) return;
    // Several live global_controls: the smallest wins, so the new one replaces the old.
    control_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                     static_cast<size_t>(wanted));
    limit_ = wanted;
  }
  void give_back(int workers) {
    std::lock_guard lock(mutex_);
    demand_ -= workers;
  }

 private:
  ThreadBudget() : base_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))), limit_(base_) {}
  std::mutex mutex_;
  int base_;
  int demand_ = 0;
  int limit_;
  std::unique_ptr<tbb::global_control> control_;
};

}  // namespace detail

// The message of a caught exception, for a cancellation's reason.
inline std::string what_of(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown failure";
  }
}

class WorkerPool {
 public:
  using FailureHook = std::function<void(const std::exception_ptr&)>;

  // `workers`: how many tasks run at once, each on a thread of its own.
  explicit WorkerPool(int workers, OnFailure rule = OnFailure::FirstWins, FailureHook on_first_failure = {})
      : workers_(std::max(1, workers)), rule_(rule), on_first_failure_(std::move(on_first_failure)) {
    detail::ThreadBudget::instance().take(workers_);
    // One slot per worker, and one more kept for the thread that waits (it may run a worker).
    arena_.initialize(workers_ + 1, 1);
  }
  ~WorkerPool() {
    if (!waited_) {
      try {
        finish();
      } catch (...) {  // a destructor after a failure elsewhere: the failure that matters is that one
      }
    }
    detail::ThreadBudget::instance().give_back(workers_);
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int workers() const { return workers_; }

  // Starts `task` on a worker (it waits for a free one when all are busy).
  void run(std::function<void()> task) {
    arena_.execute([&] {
      group_.run([this, task = std::move(task)] {
        try {
          task();
        } catch (...) {
          failed(std::current_exception());
        }
      });
    });
  }

  // Waits for every task. FirstWins: rethrows the first failure; CollectAll: returns them all.
  std::vector<std::exception_ptr> wait() {
    finish();
    std::lock_guard lock(mutex_);
    if (rule_ == OnFailure::FirstWins && !failures_.empty()) std::rethrow_exception(failures_.front());
    return failures_;
  }

 private:
  void finish() {
    waited_ = true;
    arena_.execute([&] { group_.wait(); });
  }
  void failed(std::exception_ptr failure) {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = failures_.empty();
      if (rule_ == OnFailure::CollectAll || first) failures_.push_back(failure);
    }
    if (first && rule_ == OnFailure::FirstWins && on_first_failure_) on_first_failure_(failure);
  }

  int workers_;
  OnFailure rule_;
  FailureHook on_first_failure_;
  tbb::task_arena arena_;
  tbb::task_group group_;
  std::mutex mutex_;
  std::vector<std::exception_ptr> failures_;
  bool waited_ = false;
};

// Runs `work(worker)` for worker 0..workers-1 at once and waits for all; the first failure is
// rethrown (after `on_first_failure` saw it).
inline void run_workers(int workers, const std::function<void(int worker)>& work,
                        WorkerPool::FailureHook on_first_failure = {}) {
  WorkerPool pool(workers, OnFailure::FirstWins, std::move(on_first_failure));
  for (int i = 0; i < pool.workers(); ++i) pool.run([&work, i] { work(i); });
  pool.wait();
}

}  // namespace pgblit
