// `pgblit clean`: dropping runs, or the whole catalog, and nothing that is not pgblit's own.
//
// A catalog is recognized by its marker table (catalog_info), never by the schema's name, so
// `--catalog-schema shop` on a data schema finds no catalog and drops nothing. The whole
// catalog goes table by table (no CASCADE), only the tables that are pgblit's own (its marker
// comment, or an older catalog's columns: run_catalog_owner.cpp), and its schema only if
// pgblit created it and nothing else lives there. The fence records (`fences`) go too, but
// only once no fence is in place: while one is, clean refuses. A run some process still works on (its
// shared advisory lock is held) is refused; the check and the drop share one transaction, and
// the locks it takes keep a run from starting to live again meanwhile.
#include <fmt/format.h>

#include "mover/run_catalog.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::mover {

std::vector<RunSummary> RunCatalog::runs_to_clean(std::optional<int64_t> run) {
  target_.exec("BEGIN", schema_);
  try {
    auto runs = runs_in_transaction(run);
    target_.exec("ROLLBACK", schema_);  // releases the liveness probes' locks
    return runs;
  } catch (...) {
    pg::rollback_quietly(target_);
    throw;
  }
}

std::vector<RunSummary> RunCatalog::runs_in_transaction(std::optional<int64_t> run) {
  if (!exists()) {
    throw usage_error(fmt::format("schema {} holds no pgblit run catalog: nothing to clean", quoted_), schema_,
                      "name the catalog pgblit created with --catalog-schema (default: pgblit); pgblit only ever "
                      "drops its own catalog, recognized by its catalog_info table");
  }
  if (!run) refuse_while_fenced();
  // A run is alive when someone holds its shared lock: an exclusive try fails then. The
  // transaction-level lock taken otherwise lasts until the caller's transaction ends.
  // Catalogs made before deferred objects existed have no objects table.
  std::string pending = has_table("objects")
                            ? fmt::format("(SELECT count(*) FROM {}.objects o WHERE o.run_id = r.id AND o.status = 'dropped')",
                                          quoted_)
                            : "0";
  auto r = target_.exec_params(
      fmt::format(R"(
SELECT r.id, r.status, r.started_at::text, count(c.chunk), count(c.chunk) FILTER (WHERE c.status = 'done'), {1},
       NOT pg_try_advisory_xact_lock(hashtext('pgblit run ' || $2), r.id::int)
FROM {0}.runs r LEFT JOIN {0}.chunks c ON c.run_id = r.id
WHERE $1::bigint IS NULL OR r.id = $1::bigint
GROUP BY r.id ORDER BY r.id)",
                  quoted_, pending),
      {run ? std::optional(std::to_string(*run)) : std::nullopt, schema_}, schema_ + ".runs");
  if (run && r.rows() == 0) {
    throw usage_error(fmt::format("run {} does not exist in {}: nothing dropped", *run, quoted_), schema_,
                      "list the runs with: SELECT id, status, started_at FROM " + quoted_ + ".runs");
  }
  std::vector<RunSummary> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3), r.int64(i, 4), r.int64(i, 5),
                   r.boolean(i, 6)});
  }
  return out;
}

// The fences table is all `pgblit unfence` has to lift a fence left by a crash: while one is
// still in place, the whole catalog stays (even with --force).
void RunCatalog::refuse_while_fenced() {
  if (!has_table("fences")) return;
  auto r = target_.exec(fmt::format("SELECT id, database_name, fenced_at::text FROM {}.fences WHERE lifted_at IS NULL "
                                    "ORDER BY id",
                                    quoted_),
                        schema_ + ".fences");
  if (r.rows() == 0) return;
  std::vector<std::string> fences;
  for (int i = 0; i < r.rows(); ++i) {
    fences.push_back(fmt::format("fence {} on the source database {} since {}", r.text(i, 0),
                                 pg::quote_ident(r.text(i, 1)), r.text(i, 2)));
  }
  throw usage_error(fmt::format("{} still in place (the source read-only), recorded only in {}.fences: nothing "
                                "dropped",
                                fmt::join(fences, ", "), quoted_),
                    schema_ + ".fences",
                    fmt::format("lift it first with pgblit unfence --source URI --target URI{}; if that source "
                                "database no longer exists, DELETE FROM {}.fences WHERE lifted_at IS NULL",
                                schema_ == "pgblit" ? "" : " --catalog-schema " + schema_, quoted_));
}

bool RunCatalog::has_table(const std::string& table) {
  return target_.exec_params("SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = $1 AND c.relname = $2)",
                             {schema_, table}, schema_)
      .boolean(0, 0);
}

void RunCatalog::abandon_objects(int64_t run) {
  target_.exec_params(fmt::format("UPDATE {}.objects SET status = 'abandoned' WHERE run_id = $1 AND status <> 'rebuilt'",
                                  quoted_),
                      {std::to_string(run)}, schema_ + ".objects");
}

CleanResult RunCatalog::clean(std::optional<int64_t> run) {
  CleanResult result;
  target_.exec("BEGIN", schema_);
  try {
    // A coordinator about to start a run holds the coordinator lock: the whole catalog waits for it.
    if (!run && !target_.exec_params("SELECT pg_try_advisory_xact_lock(hashtext('pgblit coordinator ' || $1))",
                                     {schema_}, schema_).boolean(0, 0)) {
      throw usage_error("a pgblit run is starting on this catalog: nothing dropped", schema_,
                        "wait until it ends, then clean");
    }
    for (const auto& r : runs_in_transaction(run)) {
      if (r.alive) {
        throw usage_error(fmt::format("run {} is in progress ({}): nothing dropped", r.id, r.status), schema_,
                          "wait until it ends, or stop it (Ctrl-C) and clean it then");
      }
      // copy --follow: its slot keeps WAL on the source until dropped, and only this row names it.
      if (has_table("follows") &&
          target_.exec_params(fmt::format("SELECT count(*) FROM {}.follows WHERE run_id = $1 AND state NOT IN "
                                          "('done', 'unfollowed')", quoted_),
                              {std::to_string(r.id)}, schema_).int64(0, 0) > 0) {
        throw usage_error(fmt::format("run {} still owns a replication slot, a publication and a subscription "
                                      "(copy --follow): nothing dropped", r.id),
                          schema_, fmt::format("pgblit unfollow {} drops them (or pgblit cutover {} finishes the "
                                               "move); then clean", r.id, r.id));
      }
      if (r.objects_pending > 0) {
        throw usage_error(fmt::format("run {} dropped {} indexes or constraints that are not rebuilt yet: nothing "
                                      "dropped, since their definitions live only in its catalog rows",
                                      r.id, r.objects_pending),
                          schema_, "pgblit copy --resume " + std::to_string(r.id) +
                                       " rebuilds them; or clean --restore-objects (rebuilds them first), or --force");
      }
      result.runs.push_back(r.id);
    }
    if (run) {
      target_.exec_params(fmt::format("DELETE FROM {}.runs WHERE id = $1", quoted_), {std::to_string(*run)}, schema_);
      if (has_table("follows")) {  // its follow is over (checked above): only its record is left
        target_.exec_params(fmt::format("DELETE FROM {}.follows WHERE run_id = $1", quoted_), {std::to_string(*run)},
                            schema_);
      }
    } else {
      bool created_schema = target_.exec(fmt::format("SELECT bool_or(created_schema) FROM {}.catalog_info", quoted_),
                                         schema_).boolean(0, 0);
      for (const auto& table : catalog_tables_present()) {  // pgblit's own only (run_catalog_owner.cpp)
        std::string name = quoted_ + "." + pg::quote_ident(table.name);
        if (!table.pgblits) {
          result.not_pgblits.push_back(name);
          continue;
        }
        target_.exec("DROP TABLE " + name, schema_);
        result.tables.push_back(name);
      }
      auto others = target_.exec_params(
          "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
          {schema_}, schema_).int64(0, 0);
      if (!created_schema) {
        result.schema_kept = "pgblit did not create it";
      } else if (others > 0) {
        result.schema_kept = fmt::format("it holds {} other objects", others);
      } else {
        target_.exec(fmt::format("DROP SCHEMA {} RESTRICT", quoted_), schema_);
        result.schema_dropped = true;
      }
    }
    target_.exec("COMMIT", schema_);
  } catch (...) {
    pg::rollback_quietly(target_);
    throw;
  }
  return result;
}

}  // namespace pgblit::mover
