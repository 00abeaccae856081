// What a copy run records for `pgblit rollback` (rollback_run.cpp reads it): before it writes,
// the target as it was (which tables were empty, which held rows and their backup, the
// sequences); when its rows are all in, what it left in its tables (table_state.hpp), so that
// a rollback can tell whether anyone wrote to them since.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

#include "runs/backup_run.hpp"
#include "runs/copy_run.hpp"
#include "mover/run_catalog.hpp"
#include "runs/table_state.hpp"
#include "pg/sql.hpp"
#include "target/target_prep.hpp"

namespace pgblit::runs {

void CopyRun::record_prior_state() {
  auto tables = run_.plan.target_tables();
  auto filled = target::target_tables_with_rows(*run_.target, run_.plan);
  std::set<std::string> with_rows(filled.begin(), filled.end());
  std::vector<std::string> empty;
  for (const auto& t : tables) {
    if (!with_rows.contains(t)) empty.push_back(t);
  }
  auto seqs = schema_sequences(*run_.target, tables);
  std::string backup;
  if (!filled.empty() && !options_.backup_target_dir.empty()) {
    plan::Selection selection;  // --table patterns: schema.table, unquoted
    auto names = run_.target->exec_params(
        "SELECT n.nspname || '.' || c.relname FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass "
        "JOIN pg_namespace n ON n.oid = c.relnamespace",
        {pg::text_array_literal(filled)});
    for (int i = 0; i < names.rows(); ++i) selection.tables.push_back(names.text(i, 0));
    pg::Cancellation cancellation;
    auto made = runs::backup({options_.target, selection, options_.backup_target_dir, kDefaultSpoolLevel, 0, options_.jobs,
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

// Called when every chunk is in, before the rebuild, verification and sequences (none of which
// change rows), so a run that fails in those has its end recorded too. A resumed run records
// it again at its own end. Not worth failing a loaded run for: without it, a rollback sees only
// later pgblit runs, and says so.
void CopyRun::record_end_state(pg::Cancellation& cancellation) {
  if (joining()) return;
  pg::Cancellation own;  // a failure here must not cancel the run
  pg::Cancellation::Link link(cancellation, own);
  try {
    auto state = table_states(options_.target, run_.plan.target_tables(), options_.jobs, own);
    mover::RunCatalog(*run_.target, options_.catalog_schema).record_end_state(run_id_, state);
  } catch (const Error& e) {
    if (cancellation.requested()) throw;
    spdlog::warn("run {}: what it left in its tables was not recorded ({}); pgblit rollback {} could not tell whether "
                 "others wrote to them since",
                 run_id_, e.what(), run_id_);
  }
}

}  // namespace pgblit::runs
