// `pgblit status`: where a run stands, read from the run catalog alone, so it works from any
// terminal or host: chunks done, running (on which worker and lane, since when), pending and
// failed; rows and bytes; throughput and ETA; deferred objects; and whether the run's
// processes are alive (their advisory locks, probed and released at once).
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "runs/status_run.hpp"
#include "runs/follow_run.hpp"
#include "target/target_claims.hpp"
#include "pg/session.hpp"

namespace pgblit::runs {

using mover::RunCatalog;

void show_status(const StatusOptions& options, Events& events, const std::function<void(const nlohmann::json&)>& show) {
  auto target = pg::open_session(options.target, "target");
  RunCatalog catalog(target, options.catalog_schema);
  std::optional<int64_t> run = options.run > 0 ? std::optional(options.run) : std::nullopt;
  for (;;) {
    auto status = run_status(catalog, run);
    // Whatever the run shown: every index and constraint any run left dropped on this target.
    auto dropped = nlohmann::json::array();
    for (const auto& p : target::pending_objects(target)) {
      dropped.push_back({{"catalog", p.catalog}, {"run_id", p.run}, {"tables", p.tables}, {"objects", p.names},
                         {"to_finish", target::how_to_finish(p)}});
    }
    status["dropped_on_target"] = dropped;
    if (auto follow = follow_status(target, options.catalog_schema, status["run_id"].get<int64_t>(), options.source);
        !follow.is_null()) {
      status["follow"] = follow;
      if (follow["state"] == "following" || follow["state"] == "cutover") {
        emit_follow_lag(events, follow, status["run_id"].get<int64_t>());
      }
    }
    show(status);
    // A following run is watched too: its lag until the cutover.
    if (!options.watch || (status["status"] != "running" && status["status"] != "following" &&
                           status["status"] != "cutover")) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval));
  }
}

nlohmann::json run_status(RunCatalog& catalog, std::optional<int64_t> run) {
  if (!catalog.exists()) {
    throw usage_error(fmt::format("schema {} holds no pgblit run catalog: no run to show", catalog.quoted()), catalog.schema(),
                      "name the catalog with --catalog-schema (default: pgblit)");
  }
  // Catalogs made before lanes were recorded have no lanes table.
  std::string lanes = catalog.has_table("lanes") ? fmt::format(R"(
  SELECT l.worker, l.lane, l.chunk, l.since,
         NOT pg_try_advisory_xact_lock(hashtext('pgblit worker ' || $2 || ' ' || l.worker)) AS alive
  FROM {}.lanes l JOIN run ON l.run_id = run.id)", catalog.quoted())
                                         : "SELECT NULL::text AS worker, 0 AS lane, NULL::int AS chunk, now() AS since, "
                                           "false AS alive WHERE false";
  catalog.target().exec("BEGIN", catalog.schema());
  try {
    auto r = catalog.target().exec_params(
        fmt::format(R"(
WITH run AS (
  SELECT * FROM {0}.runs WHERE id = COALESCE($1::bigint, (SELECT max(id) FROM {0}.runs))),
planned AS (
  SELECT (c.ordinality - 1)::int AS chunk, (c.value ->> 'estimated_bytes')::int8 AS estimated
  FROM run, jsonb_array_elements(run.plan -> 'chunks') WITH ORDINALITY c),
chunks AS (
  SELECT c.*, p.estimated FROM {0}.chunks c JOIN run ON c.run_id = run.id JOIN planned p USING (chunk)),
lanes AS ({1})
SELECT jsonb_build_object(
  'run_id', run.id, 'status', run.status, 'started_at', run.started_at, 'finished_at', run.finished_at,
  'verified_at', run.verified_at, 'seconds', extract(epoch FROM COALESCE(run.finished_at, now()) - run.started_at),
  'alive', NOT pg_try_advisory_xact_lock(hashtext('pgblit run ' || $2), run.id::int),
  'audit', run.options -> 'audit', 'exit_code', run.options -> 'exit_code',
  'chunks', (SELECT count(*) FROM chunks),
  'chunks_done', (SELECT count(*) FROM chunks WHERE status = 'done'),
  'chunks_failed', (SELECT count(*) FROM chunks WHERE status <> 'done' AND error IS NOT NULL),
  'rows', (SELECT COALESCE(sum(rows), 0) FROM chunks WHERE status = 'done'),
  'bytes', (SELECT COALESCE(sum(bytes), 0) FROM chunks WHERE status = 'done'),
  'estimated_bytes', (SELECT COALESCE(sum(estimated), 0) FROM chunks),
  'estimated_bytes_done', (SELECT COALESCE(sum(estimated), 0) FROM chunks WHERE status = 'done'),
  'errors', (SELECT COALESCE(jsonb_agg(jsonb_build_object('chunk', chunk, 'table', target_table, 'attempts', attempts,
                                                          'error', error) ORDER BY chunk), '[]')
             FROM chunks WHERE status <> 'done' AND error IS NOT NULL),
  'lanes', (SELECT COALESCE(jsonb_agg(jsonb_build_object('worker', worker, 'lane', lane, 'chunk', chunk,
                                                         'since', since, 'alive', alive) ORDER BY worker, lane), '[]')
            FROM lanes),
  'objects', (SELECT COALESCE(jsonb_object_agg(status, n), '{{}}')
              FROM (SELECT o.status, count(*) AS n FROM {0}.objects o JOIN run ON o.run_id = run.id GROUP BY o.status) s))
FROM run)",
                    catalog.quoted(), lanes),
        {run ? std::optional(std::to_string(*run)) : std::nullopt, catalog.schema()}, catalog.schema() + ".runs");
    catalog.target().exec("ROLLBACK", catalog.schema());  // releases the liveness probes
    if (r.rows() == 0) {
      throw usage_error(run ? fmt::format("run {} does not exist in {}", *run, catalog.quoted())
                            : fmt::format("{} holds no run yet", catalog.quoted()),
                        catalog.schema(), "list the runs with: SELECT id, status, started_at FROM " + catalog.quoted() + ".runs");
    }
    auto status = nlohmann::json::parse(r.text(0, 0));
    double seconds = status["seconds"], done = status["estimated_bytes_done"], total = status["estimated_bytes"];
    status["bytes_per_second"] = seconds > 0 ? status["bytes"].get<double>() / seconds : 0.0;
    // The ETA assumes the rest goes at the rate the run has kept so far.
    status["eta_seconds"] = status["status"] == "running" && done > 0 ? (total - done) / (done / seconds) : 0.0;
    return status;
  } catch (...) {
    pg::rollback_quietly(catalog.target());
    throw;
  }
}

std::vector<nlohmann::json> run_events(RunCatalog& catalog, int64_t run) {
  auto r = catalog.target().exec_params(fmt::format(R"(
SELECT jsonb_build_object('event', 'run_started', 'at', extract(epoch FROM r.started_at), 'run_id', r.id,
                          'audit', r.options -> 'audit', 'chunks', jsonb_array_length(r.plan -> 'chunks'),
                          'tables', jsonb_array_length(r.plan -> 'tables'), 'schema', 1,
                          'estimate', r.options -> 'estimate', 'window_seconds', r.options -> 'window_seconds')::text,
       r.phases::text,
       (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'chunk', c.chunk, 'lane', COALESCE(c.lane, 1), 'table', c.target_table, 'rows', COALESCE(c.rows, 0),
                 'bytes', COALESCE(c.bytes, 0), 'rejected', c.rejected, 'skipped', false, 'error', COALESCE(c.error, ''),
                 'started', extract(epoch FROM COALESCE(c.started_at, c.finished_at)),
                 'finished', extract(epoch FROM c.finished_at)) ORDER BY c.finished_at), '[]')
        FROM {0}.chunks c WHERE c.run_id = r.id AND c.status = 'done')::text,
       r.status, extract(epoch FROM COALESCE(r.finished_at, now())), r.options ->> 'exit_code'
FROM {0}.runs r WHERE r.id = $1)",
                                           catalog.quoted()),
                               {std::to_string(run)}, catalog.schema() + ".runs");
  if (r.rows() == 0) {
    throw usage_error(fmt::format("run {} does not exist in {}", run, catalog.quoted()), catalog.schema(),
                      "list the runs with: SELECT id, status, started_at FROM " + catalog.quoted() + ".runs");
  }
  std::vector<nlohmann::json> events{nlohmann::json::parse(r.text(0, 0))};
  for (auto phase : nlohmann::json::parse(r.text(0, 1))) {
    phase["event"] = "phase";
    events.push_back(phase);
  }
  for (auto chunk : nlohmann::json::parse(r.text(0, 2))) {
    double started = chunk["started"], finished = chunk["finished"];
    chunk.erase("started");
    chunk.erase("finished");
    chunk["seconds"] = finished - started;
    events.push_back({{"event", "chunk_started"}, {"at", started}, {"chunk", chunk["chunk"]}, {"lane", chunk["lane"]},
                      {"table", chunk["table"]}, {"estimated_bytes", 0}});
    chunk["event"] = "chunk_finished";
    chunk["at"] = finished;
    events.push_back(chunk);
  }
  std::string status = r.text(0, 3);
  events.push_back({{"event", "run_finished"},
                    {"at", std::stod(r.text(0, 4))},
                    // The code the run ended with, where it was kept (report/run_record.hpp); else its status's.
                    {"exit_code", !r.is_null(0, 5) ? std::stoi(r.text(0, 5)) : status == "done" ? 0 : status == "running" ? -1 : 1},
                    {"message", status == "done" ? "" : "the run is " + status}});
  return events;
}

}  // namespace pgblit::runs
