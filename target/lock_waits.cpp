// See lock_waits.hpp.
#include "target/lock_waits.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <optional>

#include "pg/session.hpp"

namespace pgblit::target {

LockWaitReporter::LockWaitReporter(std::string target_conninfo)
    : conninfo_(std::move(target_conninfo)), thread_([this] { watch(); }) {}

LockWaitReporter::~LockWaitReporter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

void LockWaitReporter::watch() {
  std::optional<pg::Connection> target;
  std::map<std::string, int> reported;  // waiter/holder -> seconds waited when last reported
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (stop_requested_.wait_for(lock, std::chrono::seconds(kPollSeconds), [&] { return stop_; })) return;
    }
    try {
      if (!target) target.emplace(pg::Connection::open(conninfo_, "target"));
      auto r = target->exec_params(R"(
SELECT w.pid::text || '/' || b.pid::text,
       COALESCE((SELECT l.relation::regclass::text FROM pg_locks l
                 WHERE l.pid = w.pid AND NOT l.granted AND l.relation IS NOT NULL LIMIT 1), w.wait_event),
       extract(epoch FROM now() - w.query_start)::int, b.pid, COALESCE(b.usename::text, '?'),
       COALESCE(NULLIF(b.application_name, ''), '-'), COALESCE(b.state, '?'),
       COALESCE(extract(epoch FROM now() - b.xact_start)::int::text || ' s', '-')
FROM pg_stat_activity w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) holder(pid)
JOIN pg_stat_activity b ON b.pid = holder.pid
WHERE w.wait_event_type = 'Lock' AND w.datname = current_database() AND w.application_name LIKE 'pgblit%'
  AND w.pid <> pg_backend_pid() AND now() - w.query_start > make_interval(secs => $1))",
                                   {std::to_string(kReportAfterSeconds)}, "lock waits");
      for (int i = 0; i < r.rows(); ++i) {
        int waited = static_cast<int>(r.int64(i, 2));
        auto last = reported.find(r.text(i, 0));
        if (last != reported.end() && waited - last->second < kRepeatSeconds) continue;
        reported[r.text(i, 0)] = waited;
        spdlog::warn("waiting {} s for a lock on {}, held by pid {} (user {}, application {}, {}, transaction open "
                     "{}); pgblit goes on when it is released, Ctrl-C stops it",
                     waited, r.text(i, 1), r.text(i, 3), r.text(i, 4), r.text(i, 5), r.text(i, 6), r.text(i, 7));
      }
    } catch (const Error& e) {  // reporting is a courtesy: it never stops a run
      spdlog::debug("lock wait report: {}", e.what());
      target.reset();
    }
  }
}

}  // namespace pgblit::target
