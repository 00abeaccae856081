// See run_catalog.hpp.
#include "mover/run_catalog.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "plan/copy_sql.hpp"
#include "pg/sql.hpp"

namespace pgblit::mover {

RunCatalog::RunCatalog(pg::Connection& target, std::string schema)
    : target_(target), schema_(std::move(schema)), quoted_(pg::quote_ident(schema_)) {}

void RunCatalog::lock_coordinator() {
  // A coordinator just killed holds the lock until its server session notices the closed
  // connection: give that a few seconds before calling the lock taken.
  for (int attempt = 0; attempt < 15; ++attempt) {
    auto r = target_.exec_params("SELECT pg_try_advisory_lock(hashtext('pgblit coordinator ' || $1))", {schema_},
                                 schema_);
    if (r.boolean(0, 0)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw usage_error("another pgblit run is being coordinated on this target (catalog " + schema_ + ")", schema_,
                    "wait for it, join it with --join RUN_ID, or use another --catalog-schema for an unrelated move");
}

void RunCatalog::create_schema() {
  std::vector<std::string> existed;
  for (const auto& t : catalog_tables_present()) existed.push_back(t.name);
  require_own_tables();
  bool schema_existed = target_.exec_params("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                                            {schema_}, schema_).boolean(0, 0);
  target_.exec(fmt::format(R"(
CREATE SCHEMA IF NOT EXISTS {0};
CREATE TABLE IF NOT EXISTS {0}.catalog_info (
  format int NOT NULL,
  created_schema bool NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL);
CREATE TABLE IF NOT EXISTS {0}.runs (
  id bigserial PRIMARY KEY,
  status text NOT NULL DEFAULT 'running',
  plan jsonb NOT NULL,
  options jsonb NOT NULL,
  snapshot_id text NOT NULL,
  snapshot_time timestamptz NOT NULL DEFAULT now(),
  source_state jsonb NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz);
CREATE TABLE IF NOT EXISTS {0}.chunks (
  run_id bigint NOT NULL REFERENCES {0}.runs ON DELETE CASCADE,
  chunk int NOT NULL,
  source_table text NOT NULL,
  target_table text NOT NULL,
  predicate text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  rows bigint,
  bytes bigint,
  source_digest text,
  target_digest text,
  format text,
  rejected bigint NOT NULL DEFAULT 0,
  attempts int NOT NULL DEFAULT 0,
  worker text,
  error text,
  finished_at timestamptz,
  PRIMARY KEY (run_id, chunk));
ALTER TABLE {0}.runs ADD COLUMN IF NOT EXISTS verified_at timestamptz;
ALTER TABLE {0}.runs ADD COLUMN IF NOT EXISTS phases jsonb NOT NULL DEFAULT '[]';
ALTER TABLE {0}.chunks ADD COLUMN IF NOT EXISTS started_at timestamptz;
ALTER TABLE {0}.chunks ADD COLUMN IF NOT EXISTS lane int;
CREATE TABLE IF NOT EXISTS {0}.objects (
  run_id bigint NOT NULL REFERENCES {0}.runs ON DELETE CASCADE,
  object int NOT NULL,
  table_name text NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  definition jsonb NOT NULL,
  status text NOT NULL DEFAULT 'dropped',
  error text,
  seconds float8,
  rebuilt_at timestamptz,
  PRIMARY KEY (run_id, object));
CREATE TABLE IF NOT EXISTS {0}.lanes (
  run_id bigint NOT NULL REFERENCES {0}.runs ON DELETE CASCADE,
  worker text NOT NULL,
  lane int NOT NULL,
  chunk int,
  since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, worker, lane));
CREATE TABLE IF NOT EXISTS {0}.key_map (
  run_id bigint NOT NULL REFERENCES {0}.runs ON DELETE CASCADE,
  target_table text NOT NULL,
  old_key text NOT NULL,
  new_key text NOT NULL,
  PRIMARY KEY (run_id, target_table, old_key));
)",
                           quoted_),
               schema_);
  target_.exec_params(fmt::format("INSERT INTO {0}.catalog_info (format, created_schema, created_by) "
                                  "SELECT 2, $1, 'pgblit ' || $2 WHERE NOT EXISTS (SELECT 1 FROM {0}.catalog_info)",
                                  quoted_),
                      {schema_existed ? "false" : "true", PGBLIT_VERSION}, schema_ + ".catalog_info");
  mark_own_tables(existed);  // format 2: the catalog's tables carry pgblit's marker
}

bool RunCatalog::exists() {
  // Through pg_class, not regclass, which fails outright without USAGE on the schema; and only
  // pgblit's own tables of those names count (run_catalog_owner.cpp).
  int own = 0;
  for (const auto& t : catalog_tables_present()) own += t.pgblits && (t.name == "catalog_info" || t.name == "runs");
  return own == 2;
}

void RunCatalog::hold_run(int64_t run) {
  target_.exec_params("SELECT pg_advisory_lock_shared(hashtext('pgblit run ' || $1), $2::int)",
                      {schema_, std::to_string(run)}, schema_);
}

int64_t RunCatalog::create_run(const plan::Plan& plan, const nlohmann::json& options,
                               const std::string& snapshot_id, const nlohmann::json& source_state) {
  auto json = plan::to_json(plan);
  auto r = target_.exec_params(
      fmt::format(R"(
WITH run AS (INSERT INTO {0}.runs (plan, options, snapshot_id, source_state) VALUES ($1, $2, $3, $4) RETURNING id),
chunks AS (INSERT INTO {0}.chunks (run_id, chunk, source_table, target_table, predicate)
           SELECT run.id, (c.ordinality - 1)::int, t.value ->> 'source', t.value ->> 'target', c.value ->> 'predicate'
           FROM run, jsonb_array_elements($1::jsonb -> 'chunks') WITH ORDINALITY c
           JOIN jsonb_array_elements($1::jsonb -> 'tables') WITH ORDINALITY t
             ON t.ordinality - 1 = (c.value ->> 'table')::int)
SELECT id FROM run)",
                  quoted_),
      {json.dump(), options.dump(), snapshot_id, source_state.dump()}, schema_ + ".runs");
  return r.int64(0, 0);
}

std::optional<int64_t> RunCatalog::run_with_mapping(const std::string& digest) {
  if (!exists()) return std::nullopt;
  auto r = target_.exec_params(fmt::format("SELECT max(id) FROM {}.runs WHERE options -> 'mapping' ->> 'digest' = $1",
                                           quoted_),
                               {digest}, schema_ + ".runs");
  if (r.is_null(0, 0)) return std::nullopt;
  return r.int64(0, 0);
}

RunRecord RunCatalog::load_run(std::optional<int64_t> id) {
  auto catalog = target_.exec_params("SELECT to_regclass($1) IS NOT NULL", {quoted_ + ".runs"});
  if (!catalog.boolean(0, 0)) {
    throw usage_error("there is no run to resume or join: the target has no run catalog", schema_,
                      "start a run with pgblit copy (or name the catalog with --catalog-schema)");
  }
  auto r = id ? target_.exec_params(fmt::format("SELECT id, status, plan, options, snapshot_id, source_state, "
                                                "COALESCE(finished_at::text, '') FROM {}.runs WHERE id = $1",
                                                quoted_),
                                    {std::to_string(*id)})
              : target_.exec(fmt::format("SELECT id, status, plan, options, snapshot_id, source_state, "
                                         "COALESCE(finished_at::text, '') FROM {}.runs "
                                         "WHERE status <> 'done' ORDER BY id DESC LIMIT 1",
                                         quoted_));
  if (r.rows() == 0) {
    throw usage_error(id ? fmt::format("run {} does not exist in {}", *id, schema_)
                         : fmt::format("every run in {} is done: nothing to resume", schema_),
                      schema_, "list the runs with: SELECT id, status, started_at FROM " + schema_ + ".runs");
  }
  return RunRecord{r.int64(0, 0), r.text(0, 1), nlohmann::json::parse(r.text(0, 2)),
                   nlohmann::json::parse(r.text(0, 3)), r.text(0, 4), nlohmann::json::parse(r.text(0, 5)),
                   r.text(0, 6)};
}

std::vector<ChunkRecord> RunCatalog::chunks(int64_t run, size_t count) {
  std::vector<ChunkRecord> out(count);
  auto r = target_.exec_params(fmt::format("SELECT chunk, status = 'done', source_digest, target_digest, format, rows, "
                                           "bytes, rejected FROM {}.chunks WHERE run_id = $1",
                                           quoted_),
                               {std::to_string(run)});
  for (int i = 0; i < r.rows(); ++i) {
    auto c = static_cast<size_t>(r.int64(i, 0));
    if (c >= count) continue;
    auto& rec = out[c];
    rec.done = r.boolean(i, 1);
    if (!r.is_null(i, 2)) rec.source_digest = checksums::ChunkDigest::parse(r.text(i, 2));
    if (!r.is_null(i, 3)) rec.target_digest = checksums::ChunkDigest::parse(r.text(i, 3));
    rec.format = r.text(i, 4) == "text" ? plan::CopyFormat::Text : plan::CopyFormat::Binary;
    rec.rows = r.is_null(i, 5) ? 0 : r.int64(i, 5);
    rec.bytes = r.is_null(i, 6) ? 0 : r.int64(i, 6);
    rec.rejected = r.int64(i, 7);
  }
  return out;
}

void RunCatalog::set_run_status(int64_t run, const std::string& status) {
  target_.exec_params(fmt::format("UPDATE {}.runs SET status = $2, finished_at = CASE WHEN $2 = 'running' THEN NULL "
                                  "ELSE now() END WHERE id = $1",
                                  quoted_),
                      {std::to_string(run), status}, schema_ + ".runs");
}

void RunCatalog::hold_worker(const std::string& worker) {
  target_.exec_params("SELECT pg_advisory_lock(hashtext('pgblit worker ' || $1 || ' ' || $2))", {schema_, worker},
                      schema_);
}

void RunCatalog::lane_busy(int64_t run, const std::string& worker, int lane, std::optional<size_t> chunk) {
  target_.exec_params(fmt::format("INSERT INTO {}.lanes (run_id, worker, lane, chunk) VALUES ($1, $2, $3, $4) "
                                  "ON CONFLICT (run_id, worker, lane) DO UPDATE SET chunk = $4, since = now()",
                                  quoted_),
                      {std::to_string(run), worker, std::to_string(lane),
                       chunk ? std::optional(std::to_string(*chunk)) : std::nullopt},
                      schema_ + ".lanes");
}

void RunCatalog::record_end_state(int64_t run, const nlohmann::json& state) {
  target_.exec_params(fmt::format("UPDATE {}.runs SET options = options || jsonb_build_object('end_state', $2::jsonb) "
                                  "WHERE id = $1",
                                  quoted_),
                      {std::to_string(run), state.dump()}, schema_ + ".runs");
}

void RunCatalog::set_verified(int64_t run) {
  target_.exec_params(fmt::format("UPDATE {}.runs SET verified_at = now() WHERE id = $1", quoted_),
                      {std::to_string(run)}, schema_ + ".runs");
}

void RunCatalog::record_phase(int64_t run, const std::string& phase) {
  target_.exec_params(fmt::format("UPDATE {}.runs SET phases = phases || jsonb_build_array(jsonb_build_object("
                                  "'phase', $2::text, 'at', extract(epoch FROM clock_timestamp()))) WHERE id = $1",
                                  quoted_),
                      {std::to_string(run), phase}, schema_ + ".runs");
}

std::string RunCatalog::started_at(int64_t run) {
  return target_.exec_params(fmt::format("SELECT started_at::text FROM {}.runs WHERE id = $1", quoted_),
                             {std::to_string(run)}, schema_ + ".runs")
      .text(0, 0);
}

bool RunCatalog::verified(int64_t run) {
  return target_.exec_params(fmt::format("SELECT verified_at IS NOT NULL FROM {}.runs WHERE id = $1", quoted_),
                             {std::to_string(run)}, schema_ + ".runs")
      .boolean(0, 0);
}

void RunCatalog::record_deferred(int64_t run, const std::vector<nlohmann::json>& objects) {
  if (objects.empty()) return;
  target_.exec_params(fmt::format(R"(
INSERT INTO {}.objects (run_id, object, table_name, kind, name, definition)
SELECT $1, (o.ordinality - 1)::int, o.value ->> 'table', o.value ->> 'kind', o.value ->> 'name', o.value
FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY o)",
                                  quoted_),
                      {std::to_string(run), nlohmann::json(objects).dump()}, schema_ + ".objects");
}

std::vector<DeferredRecord> RunCatalog::deferred(int64_t run) {
  auto r = target_.exec_params(
      fmt::format("SELECT definition, status = 'rebuilt' FROM {}.objects WHERE run_id = $1 ORDER BY object", quoted_),
      {std::to_string(run)}, schema_ + ".objects");
  std::vector<DeferredRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({nlohmann::json::parse(r.text(i, 0)), r.boolean(i, 1)});
  return out;
}

void RunCatalog::mark_rebuilt(int64_t run, size_t object, double seconds) {
  target_.exec_params(fmt::format("UPDATE {}.objects SET status = 'rebuilt', error = NULL, seconds = $3, "
                                  "rebuilt_at = now() WHERE run_id = $1 AND object = $2",
                                  quoted_),
                      {std::to_string(run), std::to_string(object), fmt::format("{:.3f}", seconds)},
                      schema_ + ".objects");
}

void RunCatalog::record_rebuild_failure(int64_t run, size_t object, const std::string& error) {
  target_.exec_params(fmt::format("UPDATE {}.objects SET error = $3 WHERE run_id = $1 AND object = $2", quoted_),
                      {std::to_string(run), std::to_string(object), error}, schema_ + ".objects");
}

void RunCatalog::record_failure(int64_t run, size_t chunk, const std::string& error, const std::string& worker) {
  target_.exec_params(fmt::format("UPDATE {}.chunks SET attempts = attempts + 1, error = $3, worker = $4 "
                                  "WHERE run_id = $1 AND chunk = $2 AND status <> 'done'",
                                  quoted_),
                      {std::to_string(run), std::to_string(chunk), error, worker}, schema_ + ".chunks");
}

void RunCatalog::record_target_digest(int64_t run, size_t chunk, const checksums::ChunkDigest& digest) {
  target_.exec_params(fmt::format("UPDATE {}.chunks SET target_digest = $3 WHERE run_id = $1 AND chunk = $2", quoted_),
                      {std::to_string(run), std::to_string(chunk), digest.to_string()}, schema_ + ".chunks");
}

bool RunCatalog::claim(int64_t run, size_t chunk) {
  return target_.exec_params(fmt::format("SELECT status FROM {}.chunks WHERE run_id = $1 AND chunk = $2 "
                                         "AND status <> 'done' FOR UPDATE SKIP LOCKED",
                                         quoted_),
                             {std::to_string(run), std::to_string(chunk)}, schema_ + ".chunks")
             .rows() == 1;
}

void RunCatalog::mark_done(int64_t run, size_t chunk, const ChunkDone& done) {
  target_.exec_params(fmt::format("UPDATE {}.chunks SET status = 'done', rows = $3, bytes = $4, source_digest = $5, "
                                  "format = $6, worker = $7, rejected = $8, attempts = attempts + 1, error = NULL, "
                                  "lane = $9, started_at = clock_timestamp() - make_interval(secs => $10), "
                                  "finished_at = clock_timestamp() WHERE run_id = $1 AND chunk = $2",
                                  quoted_),
                      {std::to_string(run), std::to_string(chunk), std::to_string(done.rows),
                       std::to_string(done.bytes), done.source_digest.to_string(),
                       std::string(plan::format_name(done.format)), done.worker, std::to_string(done.rejected),
                       std::to_string(done.lane), fmt::format("{:.3f}", done.seconds)},
                      schema_ + ".chunks");
}

bool RunCatalog::has_table(const std::string& table) {
  return target_.exec_params("SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = $1 AND c.relname = $2)",
                             {schema_, table}, schema_)
      .boolean(0, 0);
}

}  // namespace pgblit::mover
