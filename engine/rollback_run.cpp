// See rollback_run.hpp. CopyRun::record_prior_state (the other half) is here too: what the
// run records before it writes is exactly what the rollback reads.
#include "engine/rollback_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "engine/backup_run.hpp"
#include "engine/copy_run.hpp"
#include "engine/restore_run.hpp"
#include "engine/run_catalog.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "target/target_prep.hpp"

namespace pgblit::engine {
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
};

Prior prior_of(const RunRecord& record, const std::string& catalog) {
  auto state = record.options.value("prior_state", nlohmann::json());
  if (!state.is_object()) {
    throw usage_error(fmt::format("run {} recorded nothing of the target before it (it predates rollback)", record.id),
                      catalog, "roll it back by hand");
  }
  return {strings(state.at("empty")), strings(state.at("filled")), state.at("sequences"),
          state.value("backup", "")};
}

}  // namespace

void CopyRun::record_prior_state() {
  auto tables = run_.plan.target_tables();
  auto filled = target::target_tables_with_rows(*run_.target, run_.plan);
  std::set<std::string> with_rows(filled.begin(), filled.end());
  std::vector<std::string> empty;
  for (const auto& t : tables) {
    if (!with_rows.contains(t)) empty.push_back(t);
  }
  auto sequences = run_.target->exec_params(R"(
SELECT format('%I.%I', s.schemaname, s.sequencename), s.last_value::text, s.start_value::text
FROM pg_sequences s WHERE s.schemaname IN (
  SELECT DISTINCT n.nspname FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass
  JOIN pg_namespace n ON n.oid = c.relnamespace))",
                                            {pg::text_array_literal(tables)}, "sequences");
  nlohmann::json seqs = nlohmann::json::array();
  for (int i = 0; i < sequences.rows(); ++i) {
    seqs.push_back({{"name", sequences.text(i, 0)},
                    {"last_value", sequences.is_null(i, 1) ? nlohmann::json() : nlohmann::json(sequences.text(i, 1))},
                    {"start_value", sequences.text(i, 2)}});
  }
  std::string backup;
  if (!filled.empty() && !options_.backup_target_dir.empty()) {
    partitioner::Selection selection;  // --table patterns: schema.table, unquoted
    auto names = run_.target->exec_params(
        "SELECT n.nspname || '.' || c.relname FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass "
        "JOIN pg_namespace n ON n.oid = c.relnamespace",
        {pg::text_array_literal(filled)});
    for (int i = 0; i < names.rows(); ++i) selection.tables.push_back(names.text(i, 0));
    pg::Cancellation cancellation;
    auto made = engine::backup({options_.target, selection, options_.backup_target_dir, 3, 0, options_.jobs,
                                options_.chunk_bytes},
                               cancellation);
    backup = std::filesystem::absolute(options_.backup_target_dir).string();
    spdlog::info("backed up {} target tables that hold rows ({} rows) to {} before writing", filled.size(), made.rows,
                 backup);
  } else if (!filled.empty()) {
    spdlog::warn("{} target tables hold rows and no --backup-target was given: pgblit rollback could not put them back",
                 filled.size());
  }
  prior_state_ = {{"empty", empty}, {"filled", filled}, {"sequences", seqs}, {"backup", backup}};
}

std::string describe_rollback(const RollbackOptions& options) {
  auto target = pg::open_session(options.target, "target");
  auto record = RunCatalog(target, options.catalog_schema).load_run(options.run_id);
  auto prior = prior_of(record, options.catalog_schema);
  return fmt::format("About to roll back run {} on {}: emptying {} tables{} and setting {} sequences back.", record.id,
                     target.display(), prior.empty.size() + prior.filled.size(),
                     prior.filled.empty() ? "" : fmt::format(" and reloading {} of them from {}", prior.filled.size(),
                                                             prior.backup),
                     prior.sequences.size());
}

RollbackSummary rollback(const RollbackOptions& options, pg::Cancellation& cancellation) {
  auto target = pg::open_session(options.target, "target");
  pg::Cancellation::Watch watch(cancellation, target);
  RunCatalog catalog(target, options.catalog_schema);
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
  RollbackSummary summary;
  std::vector<std::string> all = prior.empty;
  all.insert(all.end(), prior.filled.begin(), prior.filled.end());
  if (record.status != "rolling back") {
    target.exec("BEGIN");
    try {
      for (const auto& r : catalog.runs_in_transaction(record.id)) {  // holds the run's lock until COMMIT
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
      if (!all.empty()) target.exec(fmt::format("TRUNCATE {}", fmt::join(all, ", ")), all[0]);
      catalog.set_run_status(record.id, "rolling back");
      target.exec("COMMIT");
    } catch (...) {
      pg::rollback_quietly(target);
      throw;
    }
  }
  summary.emptied = all.size();
  if (!prior.filled.empty()) {
    auto restored = restore({prior.backup, options.target, {prior.filled.begin(), prior.filled.end()}, options.jobs,
                             false, true, options.catalog_schema},
                            cancellation);
    summary.reloaded = prior.filled.size();
    summary.rows_reloaded = restored.rows;
  }
  for (const auto& s : prior.sequences) {
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

}  // namespace pgblit::engine
