// See rollback_run.hpp. What it reads was recorded by the copy run (rollback_record.cpp); what
// it checks before it changes anything is in rollback_checks.cpp.
#include "runs/rollback_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "mover/deferred_rebuild.hpp"
#include "runs/clean_run.hpp"
#include "runs/restore_run.hpp"
#include "runs/rollback_checks.hpp"
#include "mover/run_catalog.hpp"
#include "target/target_claims.hpp"
#include "runs/table_state.hpp"
#include "pg/retry.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {
namespace {

std::vector<std::string> strings(const nlohmann::json& array) {
  std::vector<std::string> out;
  for (const auto& v : array) out.push_back(v.get<std::string>());
  return out;
}

struct Prior {
  std::vector<std::string> empty, filled;
  nlohmann::json sequences;
  std::string backup;
  nlohmann::json end_state;  // null: the run ended before recording one (cut short, or an older pgblit)

  std::vector<std::string> all() const {
    std::vector<std::string> out = empty;
    out.insert(out.end(), filled.begin(), filled.end());
    return out;
  }
};

Prior prior_of(const mover::RunRecord& record, const std::string& catalog) {
  auto state = record.options.value("prior_state", nlohmann::json());
  if (!state.is_object()) {
    throw usage_error(fmt::format("run {} recorded nothing of the target before it (it predates rollback)", record.id),
                      catalog, "roll it back by hand");
  }
  return {strings(state.at("empty")), strings(state.at("filled")), state.at("sequences"), state.value("backup", ""),
          record.options.value("end_state", nlohmann::json())};
}

// The sequences to set back: those of the run's tables' columns (owned by one, or named in one's
// default) that moved since the run began. A sequence of another table in the same schemas is
// the application's: setting it back would make its next inserts collide.
std::vector<nlohmann::json> sequences_to_set_back(pg::Connection& target, const Prior& prior) {
  std::vector<std::string> names;
  for (const auto& s : prior.sequences) names.push_back(s.at("name"));
  auto r = target.exec_params(R"(
WITH tables AS (SELECT array_agg(t::regclass) AS oids FROM unnest($2::text[]) t)
SELECT s FROM unnest($1::text[]) s, tables WHERE to_regclass(s) IS NOT NULL AND EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = to_regclass(s)
                              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(tables.oids)
  UNION ALL
  SELECT 1 FROM pg_depend d JOIN pg_attrdef a ON a.oid = d.objid
  WHERE d.classid = 'pg_attrdef'::regclass AND d.refobjid = to_regclass(s) AND a.adrelid = ANY(tables.oids)))",
                              {pg::text_array_literal(names), pg::text_array_literal(prior.all())}, "sequences");
  std::set<std::string> of_tables;
  for (int i = 0; i < r.rows(); ++i) of_tables.insert(r.text(i, 0));
  auto now = schema_sequences(target, prior.all());
  std::vector<nlohmann::json> out;
  for (const auto& s : prior.sequences) {
    if (!of_tables.contains(s.at("name").get<std::string>())) continue;
    if (std::none_of(now.begin(), now.end(), [&](const auto& n) { return n == s; })) out.push_back(s);
  }
  return out;
}

// What changed in the run's tables since it ended, each with the later runs that wrote to it.
// Without an end state, only later pgblit runs can be seen.
std::vector<std::string> changes_since_end(pg::Connection& target, const RollbackOptions& options, const Prior& prior,
                                           pg::Cancellation& cancellation) {
  auto tables = prior.all();
  auto later = later_runs(target, options.catalog_schema, options.run_id, tables);
  auto written_by = [&](const std::string& table) {
    auto it = later.find(table);
    return it == later.end() ? std::string("not by a pgblit run")
                             : fmt::format("written since by {}", fmt::join(it->second, ", "));
  };
  std::vector<std::string> changes;
  if (prior.end_state.is_object()) {
    auto now = table_states(options.target, tables, options.jobs, cancellation, prior.end_state);
    for (const auto& [table, what] : changed_table_states(prior.end_state, now)) {
      changes.push_back(fmt::format("{} ({}; {})", table, what, written_by(table)));
    }
    return changes;
  }
  spdlog::warn("run {} recorded nothing of what it left in its tables (it was cut short, or made by an older pgblit): "
               "only later pgblit runs can be seen, not other writes",
               options.run_id);
  for (const auto& [table, runs] : later) changes.push_back(fmt::format("{} ({})", table, written_by(table)));
  return changes;
}

// Everything that can be checked without changing anything; then, in one transaction that
// keeps writers out of the run's tables, the comparison with what the run left, the emptying
// and the status "rolling back".
void check_and_empty(pg::Connection& target, mover::RunCatalog& catalog, const mover::RunRecord& record, const Prior& prior,
                     const nlohmann::json& sequences, const RollbackOptions& options, pg::Cancellation& cancellation) {
  auto all = prior.all();
  if (!prior.filled.empty()) check_backup(prior.backup, prior.filled, record.id, options.jobs, cancellation);
  std::vector<std::string> sequence_names;
  for (const auto& s : sequences) sequence_names.push_back(s.at("name"));
  require_rollback_privileges(target, all, prior.filled, sequence_names);
  target.exec("BEGIN");
  try {
    for (const auto& r : runs_in_transaction(catalog, record.id)) {  // holds the run's lock until COMMIT
      if (r.alive) {
        throw usage_error(fmt::format("run {} is in progress: nothing rolled back", r.id), options.catalog_schema,
                          "stop it (Ctrl-C) first");
      }
      if (r.objects_pending > 0) {
        throw usage_error(fmt::format("run {} still has {} dropped indexes or constraints: nothing rolled back", r.id,
                                      r.objects_pending),
                          options.catalog_schema,
                          fmt::format("pgblit copy --resume {} puts them back; then roll it back", r.id));
      }
    }
    // Writers wait from here to COMMIT (readers do not): what is compared is what is emptied.
    if (!all.empty()) target.exec(fmt::format("LOCK TABLE {} IN EXCLUSIVE MODE", fmt::join(all, ", ")), all[0]);
    auto changes = changes_since_end(target, options, prior, cancellation);
    if (!changes.empty() && !options.force) {
      throw usage_error(fmt::format("the tables of run {} changed since it ended: {}; rolling it back would lose that "
                                    "work: nothing changed",
                                    record.id, fmt::join(changes, ", ")),
                        all[0],
                        "roll back the later runs first (newest first), or pass --force to roll back anyway and lose "
                        "what was written since");
    }
    for (const auto& c : changes) spdlog::warn("rolling back anyway (--force), losing what was written since: {}", c);
    if (!all.empty()) target.exec(fmt::format("TRUNCATE {}", fmt::join(all, ", ")), all[0]);
    catalog.set_run_status(record.id, "rolling back");
    // Which sequences to set back, with the status: once emptied, what the run moved is not visible.
    target.exec_params(fmt::format("UPDATE {}.runs SET options = options || jsonb_build_object('rollback_sequences', "
                                   "$2::jsonb) WHERE id = $1",
                                   pg::quote_ident(options.catalog_schema)),
                       {std::to_string(record.id), sequences.dump()}, options.catalog_schema);
    target.exec("COMMIT");
  } catch (...) {
    pg::rollback_quietly(target);
    throw;
  }
}

// A reload that failed for good: the restore's indexes and constraints are rebuilt on what is
// loaded (the rows come from a backup of tables that had them; not after Ctrl-C, which wants
// to stop now), and the error says what is still dropped and that running the rollback again
// finishes it.
Error after_failed_reload(const Error& failure, const RollbackOptions& options, const Prior& prior, bool rebuild_now) {
  std::string still_dropped = "none";
  try {
    auto target = pg::open_session(options.target, "target");
    mover::RunCatalog catalog(target, options.catalog_schema);
    auto r = target.exec_params(fmt::format("SELECT id FROM {}.runs WHERE options ->> 'spool' = $1 AND "
                                            "options ->> 'kind' = 'restore' ORDER BY id DESC LIMIT 1",
                                            pg::quote_ident(options.catalog_schema)),
                                {prior.backup}, options.catalog_schema);
    if (r.rows() > 0) {
      int64_t restore_run = r.int64(0, 0);
      if (rebuild_now) {
        auto plan = plan::plan_from_json(catalog.load_run(restore_run).plan);
        pg::Cancellation own;
        mover::DeferredRebuild rebuild(catalog, restore_run, plan, options.target, options.jobs, own, options.retry_timeout);
        if (rebuild.pending() > 0) {
          for (const auto& t : plan.target_tables()) rebuild.table_loaded(t);
          rebuild.finish(target);
        }
      }
      auto left = target.exec_params(
          fmt::format("SELECT string_agg(format('%s %s on %s', kind, name, table_name), ', ' ORDER BY object) "
                      "FROM {}.objects WHERE run_id = $1 AND status = 'dropped'",
                      pg::quote_ident(options.catalog_schema)),
          {std::to_string(restore_run)}, options.catalog_schema);
      if (!left.is_null(0, 0)) still_dropped = left.text(0, 0);
    }
  } catch (const Error& e) {
    still_dropped = fmt::format("unknown ({})", e.what());
  }
  return Error(ErrorKind::Runtime,
               fmt::format("the reload of run {}'s tables from {} failed: {}. The tables are emptied and partly "
                           "reloaded; indexes and constraints still dropped: {}",
                           options.run_id, prior.backup, failure.what(), still_dropped),
               failure.object(),
               fmt::format("fix the cause, then run pgblit rollback {} again: it reloads only what is missing and "
                           "rebuilds what is dropped",
                           options.run_id));
}

// A failure that ends the rollback: when it came after the emptying, what is left to do.
Error explain_failure(const Error& failure, const RollbackOptions& options, bool interrupted) {
  try {
    auto target = pg::open_session(options.target, "target");
    auto record = mover::RunCatalog(target, options.catalog_schema).load_run(options.run_id);
    if (record.status != "rolling back") return failure;  // nothing changed
    auto prior = prior_of(record, options.catalog_schema);
    if (!prior.filled.empty()) return after_failed_reload(failure, options, prior, !interrupted);
  } catch (const Error&) {  // the target is gone: say what is known
  }
  return Error(failure.kind() == ErrorKind::Usage ? ErrorKind::Runtime : failure.kind(),
               fmt::format("{}; if run {}'s status is 'rolling back', its tables are emptied and not all put back yet",
                           failure.what(), options.run_id),
               failure.object(), fmt::format("fix the cause, then run pgblit rollback {} again", options.run_id));
}

// `emptied` turns true once the run's tables are emptied (now, or by an earlier attempt).
// The run rolled back and the restores that reload its backup (an earlier rollback's, killed).
std::vector<int64_t> own_runs(pg::Connection& target, const RollbackOptions& options, const mover::RunRecord& record,
                              const Prior& prior) {
  std::vector<int64_t> runs{record.id};
  if (prior.backup.empty()) return runs;
  auto r = target.exec_params(fmt::format("SELECT id FROM {}.runs WHERE options ->> 'kind' = 'restore' "
                                          "AND options ->> 'spool' = $1",
                                          pg::quote_ident(options.catalog_schema)),
                              {prior.backup}, options.catalog_schema);
  for (int i = 0; i < r.rows(); ++i) runs.push_back(r.int64(i, 0));
  return runs;
}

RollbackSummary rollback_once(const RollbackOptions& options, pg::Cancellation& cancellation, bool& emptied) {
  auto target = pg::open_session(options.target, "target");
  pg::Cancellation::Watch watch(cancellation, target);
  mover::RunCatalog catalog(target, options.catalog_schema);
  auto record = catalog.load_run(options.run_id);
  auto prior = prior_of(record, options.catalog_schema);
  if (record.status == "rolled back") {
    throw usage_error(fmt::format("run {} was rolled back already", record.id), options.catalog_schema, "");
  }
  if (!prior.filled.empty() && prior.backup.empty()) {
    throw usage_error(fmt::format("run {} wrote into tables that held rows ({}) and no --backup-target was taken: "
                                  "they cannot be put back; nothing changed",
                                  record.id, fmt::join(prior.filled, ", ")),
                      prior.filled[0], "restore them from your own backup");
  }
  // One command per target table at a time, and none over indexes another run left dropped.
  target::lock_target_tables(target, prior.all());
  target::refuse_pending_objects_of_other_runs(target, prior.all(), options.catalog_schema, own_runs(target, options, record, prior),
                                       "rollback");
  nlohmann::json sequences = record.options.value("rollback_sequences", nlohmann::json());
  if (record.status != "rolling back" || !sequences.is_array()) sequences = sequences_to_set_back(target, prior);
  if (record.status != "rolling back") check_and_empty(target, catalog, record, prior, sequences, options, cancellation);
  emptied = true;
  RollbackSummary summary;
  summary.emptied = prior.all().size();
  if (!prior.filled.empty()) {
    RestoreOptions reload{prior.backup, options.target, {prior.filled.begin(), prior.filled.end()}, options.jobs,
                          false, true, options.catalog_schema};
    reload.tables_locked_by_caller = true;
    reload.retry_timeout = options.retry_timeout;
    auto restored = restore(reload, cancellation);
    summary.reloaded = prior.filled.size();
    summary.rows_reloaded = restored.rows;
  }
  // Set back only where the run's tables were proved unchanged since it ended: with --force,
  // others wrote since, and values they were handed must never be handed out again.
  if (options.force && !sequences.empty()) {
    spdlog::warn("{} sequences left where they are (--force: they only ever move forward)", sequences.size());
    sequences = nlohmann::json::array();
  }
  for (const auto& s : sequences) {
    std::string name = s.at("name");
    bool called = !s.at("last_value").is_null();
    target.exec_params("SELECT setval($1::regclass, $2::bigint, $3::boolean)",
                       {name, called ? s.at("last_value").get<std::string>() : s.at("start_value").get<std::string>(),
                        called ? "true" : "false"},
                       name);
    ++summary.sequences;
  }
  catalog.set_run_status(record.id, "rolled back");
  return summary;
}

}  // namespace

std::string describe_rollback(const RollbackOptions& options) {
  auto target = pg::open_session(options.target, "target");
  auto record = mover::RunCatalog(target, options.catalog_schema).load_run(options.run_id);
  auto prior = prior_of(record, options.catalog_schema);
  return fmt::format("About to roll back run {} on {}: emptying {} tables{} and setting the sequences of their columns "
                     "back.",
                     record.id, target.display(), prior.all().size(),
                     prior.filled.empty() ? "" : fmt::format(" and reloading {} of them from {}", prior.filled.size(),
                                                             prior.backup));
}

// A target restart (any transient failure) is ridden out like copy's lanes do: the rollback is
// taken up again where it stands (its status, and the reload's exactly-once chunks) until
// --retry-timeout. Any other failure of the reload ends it with what is still dropped named.
RollbackSummary rollback(const RollbackOptions& options, pg::Cancellation& cancellation) {
  pg::Retry retry(options.retry_timeout, cancellation);
  bool emptied = false;
  for (;;) {
    try {
      pg::Cancellation attempt;  // a failed lane cancels this attempt, not the retries (nor Ctrl-C's)
      pg::Cancellation::Link link(cancellation, attempt);
      return rollback_once(options, attempt, emptied);
    } catch (const Error& e) {
      if (retry.again(e, fmt::format("the rollback of run {}", options.run_id))) continue;
      if (!emptied && e.kind() == ErrorKind::Usage) throw;  // refused: nothing changed
      throw explain_failure(e, options, cancellation.requested());
    }
  }
}

}  // namespace pgblit::runs
