// The parallel rebuild of deferred objects (deferred.hpp).
//
// `--index-jobs` sessions of their own build at once, largest table first. A table's indexes
// and its primary key, unique and exclusion constraints start as soon as its last chunk is in,
// while other tables still load; a foreign key starts once its own table is loaded and its
// referenced table's keys are back. Each session gets maintenance_work_mem of four times the
// server's setting shared among the concurrent builds (at least 64 MB, at most 2 GB each).
//
// How each object comes back: a primary key or unique constraint is built as a unique index
// (CREATE INDEX takes a SHARE lock, so it builds beside the table's other indexes), then
// attached with ADD CONSTRAINT ... USING INDEX in a transaction of its own (attaching needs an
// exclusive lock for a moment; holding both in one transaction would deadlock two attaches on
// one table). A foreign key is added NOT VALID (no scan), then VALIDATE CONSTRAINT checks all
// rows in one set-based pass without a table rewrite. The step that completes an object also
// records it rebuilt (on_rebuilt, in the same transaction), and every step first looks whether
// its work is already there, so a rebuild killed at any moment is finished by a resume.
//
// A rebuild that fails (duplicate keys under a unique constraint the source did not have,
// orphan rows under a foreign key) leaves the data loaded and the object pending; the failure
// names the object and shows up to 10 offending keys.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/worker_pool.hpp"
#include "pg/cancellation.hpp"
#include "target/deferred.hpp"

namespace pgblit::target {

struct RebuildFailure {
  size_t object = 0;
  std::string message;                // the server's error, with the object named
  std::vector<std::string> examples;  // up to 10 offending keys
};

struct RebuildTotals {
  std::map<std::string, std::pair<int, double>> by_kind;  // "indexes" -> (count, seconds summed)
  std::vector<RebuildFailure> failures;
};

class Rebuilder {
 public:
  // Runs inside the transaction that completes object `index`, on that build's session.
  using OnRebuilt = std::function<void(pg::Connection& session, size_t index, double seconds)>;

  // `objects[i]` still to rebuild when `pending[i]`; `run_tables`: the tables the run loads
  // (any other table counts as loaded from the start). A build that loses the target retries
  // for `retry_timeout` seconds, the command's --retry-timeout like its lanes (pg/retry.hpp).
  Rebuilder(std::vector<DeferredObject> objects, std::vector<bool> pending, std::set<std::string> run_tables,
            std::string target_conninfo, int jobs, OnRebuilt on_rebuilt, pg::Cancellation& cancellation,
            double retry_timeout);
  ~Rebuilder();
  Rebuilder(const Rebuilder&) = delete;
  Rebuilder& operator=(const Rebuilder&) = delete;

  void table_loaded(const std::string& table);  // its objects may start
  void all_loaded();
  RebuildTotals wait();  // until every pending object is rebuilt or failed
  // After the load failed: until what could start (its tables are loaded) is rebuilt or
  // failed; the rest stays pending.
  RebuildTotals wait_for_started();

 private:
  RebuildTotals wait_while_any(std::initializer_list<int> states);
  void work();
  void schedule();  // under mutex_: moves what became possible to the ready list
  void open_session(std::optional<pg::Connection>& session);
  void rebuild(pg::Connection& session, size_t index);
  bool keys_back(const std::string& table) const;

  std::vector<DeferredObject> objects_;
  std::set<std::string> run_tables_;
  std::string conninfo_;
  OnRebuilt on_rebuilt_;
  pg::Cancellation& cancellation_;
  double retry_timeout_;
  std::atomic<int64_t> memory_kb_{0};
  int workers_ = 0;  // how many builds run at once

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> state_;  // 0 waiting, 1 ready, 2 building, 3 done, 4 failed
  std::set<std::string> loaded_;
  bool stopping_ = false;
  RebuildTotals totals_;
  std::unique_ptr<WorkerPool> builds_;  // last: its workers use everything above
};

}  // namespace pgblit::target
