// Saying what a run waits for, and what the target is doing for it. A pgblit session on the target that waits for a lock (another
// session holds the table: an open transaction, a migration, a long report) would otherwise
// show nothing for as long as the wait lasts. While a LockWaitReporter lives, a thread of its
// own looks every few seconds at the target's pg_stat_activity and logs, for each pgblit
// session waiting longer than kReportAfter, what it waits on and who holds it (pid, user,
// application, state, for how long; never the holder's query text, which may hold secrets).
// Given events (report_to), it also reports, as "server_progress" events, what the target's
// pg_stat_progress_copy and pg_stat_progress_create_index say of pgblit's sessions (where
// the role may read them): the progress display shows it under the lanes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/events.hpp"
#include "pg/connection.hpp"

namespace pgblit::target {

class LockWaitReporter {
 public:
  static constexpr int kPollSeconds = 2;
  static constexpr int kReportAfterSeconds = 5;
  static constexpr int kRepeatSeconds = 30;

  explicit LockWaitReporter(std::string target_conninfo);
  ~LockWaitReporter();
  LockWaitReporter(const LockWaitReporter&) = delete;
  // Server progress goes to `events` from now on (nullptr: no more).
  void report_to(Events* events);
  LockWaitReporter& operator=(const LockWaitReporter&) = delete;

 private:
  void watch();

  void report_progress(pg::Connection& target);

  std::string conninfo_;
  std::atomic<Events*> events_{nullptr};
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pgblit::target
