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
#include <spdlog/spdlog.h>

#include "runs/clean_run.hpp"
#include "mover/deferred_rebuild.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {

using mover::RunCatalog;

namespace {

// A run that dropped indexes or constraints still pending: rebuild them first, or (--force)
// give them up, after writing each definition to the log.
void settle_pending_objects(const CleanOptions& options, RunCatalog& catalog, pg::Connection& target,
                            const std::vector<RunSummary>& runs, pg::Cancellation& cancellation) {
  for (const auto& r : runs) {
    if (r.objects_pending == 0) continue;
    if (options.restore_objects) {
      mover::DeferredRebuild rebuild(catalog, r.id, plan::Plan{}, options.target, 1, cancellation);
      if (rebuild.finish(target) > 0) {
        throw Error(ErrorKind::Runtime, fmt::format("run {}: some indexes or constraints could not be rebuilt; nothing "
                                                    "dropped", r.id),
                    options.catalog_schema, "the errors above say why: where they name offending rows, fix those on the target (or "
                    "the constraint), then clean again");
      }
    } else if (options.force) {
      for (const auto& record : catalog.deferred(r.id)) {
        if (record.rebuilt) continue;
        auto o = target::object_from_json(record.definition);
        spdlog::warn("giving up {} (--force); its definition: {}", o.describe(),
                     o.index_definition.empty() ? o.constraint_definition : o.index_definition);
      }
      abandon_objects(catalog, r.id);
    }
  }
}

}  // namespace

std::optional<CleanResult> clean(const CleanOptions& options, pg::Cancellation& cancellation,
                                 const std::function<bool(const CleanPending&)>& confirm) {
  auto target = pg::open_session(options.target, "target");
  RunCatalog catalog(target, options.catalog_schema);
  std::optional<int64_t> run = options.run > 0 ? std::optional(options.run) : std::nullopt;
  auto runs = runs_to_clean(catalog, run);
  for (const auto& r : runs) {
    if (r.alive) {
      throw usage_error(fmt::format("run {} is in progress: nothing dropped", r.id), options.catalog_schema,
                        "wait until it ends, or stop it (Ctrl-C) and clean it then");
    }
  }
  if (options.restore_objects || options.force) settle_pending_objects(options, catalog, target, runs, cancellation);
  if (!confirm({runs, target.display()})) return std::nullopt;
  return clean_catalog(catalog, run);
}

std::vector<RunSummary> runs_to_clean(RunCatalog& catalog, std::optional<int64_t> run) {
  catalog.target().exec("BEGIN", catalog.schema());
  try {
    auto runs = runs_in_transaction(catalog, run);
    catalog.target().exec("ROLLBACK", catalog.schema());  // releases the liveness probes' locks
    return runs;
  } catch (...) {
    pg::rollback_quietly(catalog.target());
    throw;
  }
}

std::vector<RunSummary> runs_in_transaction(RunCatalog& catalog, std::optional<int64_t> run) {
  if (!catalog.exists()) {
    throw usage_error(fmt::format("schema {} holds no pgblit run catalog: nothing to clean", catalog.quoted()), catalog.schema(),
                      "name the catalog pgblit created with --catalog-schema (default: pgblit); pgblit only ever "
                      "drops its own catalog, recognized by its catalog_info table");
  }
  if (!run) refuse_while_fenced(catalog);
  // A run is alive when someone holds its shared lock: an exclusive try fails then. The
  // transaction-level lock taken otherwise lasts until the caller's transaction ends.
  // Catalogs made before deferred objects existed have no objects table.
  std::string pending = catalog.has_table("objects")
                            ? fmt::format("(SELECT count(*) FROM {}.objects o WHERE o.run_id = r.id AND o.status = 'dropped')",
                                          catalog.quoted())
                            : "0";
  auto r = catalog.target().exec_params(
      fmt::format(R"(
SELECT r.id, r.status, r.started_at::text, count(c.chunk), count(c.chunk) FILTER (WHERE c.status = 'done'), {1},
       NOT pg_try_advisory_xact_lock(hashtext('pgblit run ' || $2), r.id::int)
FROM {0}.runs r LEFT JOIN {0}.chunks c ON c.run_id = r.id
WHERE $1::bigint IS NULL OR r.id = $1::bigint
GROUP BY r.id ORDER BY r.id)",
                  catalog.quoted(), pending),
      {run ? std::optional(std::to_string(*run)) : std::nullopt, catalog.schema()}, catalog.schema() + ".runs");
  if (run && r.rows() == 0) {
    throw usage_error(fmt::format("run {} does not exist in {}: nothing dropped", *run, catalog.quoted()), catalog.schema(),
                      "list the runs with: SELECT id, status, started_at FROM " + catalog.quoted() + ".runs");
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
void refuse_while_fenced(RunCatalog& catalog) {
  if (!catalog.has_table("fences")) return;
  auto r = catalog.target().exec(fmt::format("SELECT id, database_name, fenced_at::text FROM {}.fences WHERE lifted_at IS NULL "
                                    "ORDER BY id",
                                    catalog.quoted()),
                        catalog.schema() + ".fences");
  if (r.rows() == 0) return;
  std::vector<std::string> fences;
  for (int i = 0; i < r.rows(); ++i) {
    fences.push_back(fmt::format("fence {} on the source database {} since {}", r.text(i, 0),
                                 pg::quote_ident(r.text(i, 1)), r.text(i, 2)));
  }
  throw usage_error(fmt::format("{} still in place (the source read-only), recorded only in {}.fences: nothing "
                                "dropped",
                                fmt::join(fences, ", "), catalog.quoted()),
                    catalog.schema() + ".fences",
                    fmt::format("lift it first with pgblit unfence --source URI --target URI{}; if that source "
                                "database no longer exists, DELETE FROM {}.fences WHERE lifted_at IS NULL",
                                catalog.schema() == "pgblit" ? "" : " --catalog-schema " + catalog.schema(), catalog.quoted()));
}

void abandon_objects(RunCatalog& catalog, int64_t run) {
  catalog.target().exec_params(fmt::format("UPDATE {}.objects SET status = 'abandoned' WHERE run_id = $1 AND status <> 'rebuilt'",
                                  catalog.quoted()),
                      {std::to_string(run)}, catalog.schema() + ".objects");
}

CleanResult clean_catalog(RunCatalog& catalog, std::optional<int64_t> run) {
  CleanResult result;
  catalog.target().exec("BEGIN", catalog.schema());
  try {
    // A coordinator about to start a run holds the coordinator lock: the whole catalog waits for it.
    if (!run && !catalog.target().exec_params("SELECT pg_try_advisory_xact_lock(hashtext('pgblit coordinator ' || $1))",
                                     {catalog.schema()}, catalog.schema()).boolean(0, 0)) {
      throw usage_error("a pgblit run is starting on this catalog: nothing dropped", catalog.schema(),
                        "wait until it ends, then clean");
    }
    for (const auto& r : runs_in_transaction(catalog, run)) {
      if (r.alive) {
        throw usage_error(fmt::format("run {} is in progress ({}): nothing dropped", r.id, r.status), catalog.schema(),
                          "wait until it ends, or stop it (Ctrl-C) and clean it then");
      }
      // copy --follow: its slot keeps WAL on the source until dropped, and only this row names it.
      if (catalog.has_table("follows") &&
          catalog.target().exec_params(fmt::format("SELECT count(*) FROM {}.follows WHERE run_id = $1 AND state NOT IN "
                                          "('done', 'unfollowed')", catalog.quoted()),
                              {std::to_string(r.id)}, catalog.schema()).int64(0, 0) > 0) {
        throw usage_error(fmt::format("run {} still owns a replication slot, a publication and a subscription "
                                      "(copy --follow): nothing dropped", r.id),
                          catalog.schema(), fmt::format("pgblit unfollow {} drops them (or pgblit cutover {} finishes the "
                                               "move); then clean", r.id, r.id));
      }
      if (r.objects_pending > 0) {
        throw usage_error(fmt::format("run {} dropped {} indexes or constraints that are not rebuilt yet: nothing "
                                      "dropped, since their definitions live only in its catalog rows",
                                      r.id, r.objects_pending),
                          catalog.schema(), "pgblit copy --resume " + std::to_string(r.id) +
                                       " rebuilds them; or clean --restore-objects (rebuilds them first), or --force");
      }
      result.runs.push_back(r.id);
    }
    if (run) {
      catalog.target().exec_params(fmt::format("DELETE FROM {}.runs WHERE id = $1", catalog.quoted()), {std::to_string(*run)}, catalog.schema());
      if (catalog.has_table("follows")) {  // its follow is over (checked above): only its record is left
        catalog.target().exec_params(fmt::format("DELETE FROM {}.follows WHERE run_id = $1", catalog.quoted()), {std::to_string(*run)},
                            catalog.schema());
      }
    } else {
      bool created_schema = catalog.target().exec(fmt::format("SELECT bool_or(created_schema) FROM {}.catalog_info", catalog.quoted()),
                                         catalog.schema()).boolean(0, 0);
      for (const auto& table : catalog.catalog_tables_present()) {  // pgblit's own only (run_catalog_owner.cpp)
        std::string name = catalog.quoted() + "." + pg::quote_ident(table.name);
        if (!table.pgblits) {
          result.not_pgblits.push_back(name);
          continue;
        }
        catalog.target().exec("DROP TABLE " + name, catalog.schema());
        result.tables.push_back(name);
      }
      auto others = catalog.target().exec_params(
          "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
          {catalog.schema()}, catalog.schema()).int64(0, 0);
      if (!created_schema) {
        result.schema_kept = "pgblit did not create it";
      } else if (others > 0) {
        result.schema_kept = fmt::format("it holds {} other objects", others);
      } else {
        catalog.target().exec(fmt::format("DROP SCHEMA {} RESTRICT", catalog.quoted()), catalog.schema());
        result.schema_dropped = true;
      }
    }
    catalog.target().exec("COMMIT", catalog.schema());
  } catch (...) {
    pg::rollback_quietly(catalog.target());
    throw;
  }
  return result;
}

}  // namespace pgblit::runs
