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

void LockWaitReporter::report_to(Events* events) {
  std::lock_guard lock(mutex_);  // not while a report is being emitted
  events_ = events;
}

void LockWaitReporter::report_progress(pg::Connection& target) {
  auto r = target.exec(R"(
SELECT COALESCE((SELECT jsonb_agg(jsonb_build_object('table', c.relid::regclass::text, 'bytes', c.bytes_processed,
                                                     'rows', c.tuples_processed))
                 FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name LIKE 'pgblit%' AND c.datname = current_database()), '[]')::text,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('index', i.index_relid::regclass::text, 'phase', i.phase,
                                                     'blocks_done', i.blocks_done, 'blocks_total', i.blocks_total))
                 FROM pg_stat_progress_create_index i JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name LIKE 'pgblit%' AND i.datname = current_database()), '[]')::text)",
                       "server progress");
  auto copies = nlohmann::json::parse(r.text(0, 0)), indexes = nlohmann::json::parse(r.text(0, 1));
  std::lock_guard lock(mutex_);
  if (Events* events = events_.load()) events->emit("server_progress", {{"copy", copies}, {"create_index", indexes}});
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
      if (events_.load()) report_progress(*target);
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
