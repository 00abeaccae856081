// See run_setup.hpp.
#include "start/run_setup.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "pg/session.hpp"
#include "target/target_prep.hpp"

namespace pgblit::start {

DatabaseIdentity identify(pg::Connection& conn) {
  auto r = conn.exec(R"(
SELECT CASE WHEN has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT system_identifier::text FROM pg_control_system())
            ELSE 'started ' || pg_postmaster_start_time()::text || ' port ' || current_setting('port') END,
       d.oid::int8, d.datname, current_setting('server_version')
FROM pg_database d WHERE d.datname = current_database())",
                     "database identity");
  return {r.text(0, 0), r.int64(0, 1), r.text(0, 2), r.text(0, 3)};
}

bool require_distinct_databases(pg::Connection& source, pg::Connection& target) {
  DatabaseIdentity s = identify(source), t = identify(target);
  if (s.same_database_as(t)) {
    throw usage_error(fmt::format("the source and the target are the same database ({} on cluster {}): a copy "
                                  "would read the rows it writes or empties; nothing was done",
                                  s.database, s.cluster),
                      target.display(), "point --target at another database (or another server)");
  }
  return s.cluster == t.cluster;
}

RunSetup open_sessions(const std::string& source, const std::string& target) {
  RunSetup setup;
  setup.coordinator = std::make_unique<pg::Connection>(pg::open_session(source, "source"));
  setup.target = std::make_unique<pg::Connection>(pg::open_session(target, "target"));
  setup.same_cluster = require_distinct_databases(*setup.coordinator, *setup.target);
  setup.snapshot_id = pg::Snapshot(*setup.coordinator).id();
  spdlog::info("source {} (snapshot {}), target {}", setup.coordinator->display(), setup.snapshot_id,
               setup.target->display());
  return setup;
}

void log_plan(const plan::Plan& plan) {
  for (const auto& w : plan.warnings) spdlog::warn("{}", w);
  for (const auto& t : plan.tables) {
    if (t.format == plan::CopyFormat::Text) spdlog::info("{} goes as text: {}", t.source, t.text_reason);
  }
}

RunSetup open_run(const CopySettings& settings, const mapping::Mapping* mapping,
                  std::optional<Error>* planning_failure) {
  RunSetup setup = open_sessions(settings.source, settings.target);
  try {
    setup.plan = plan::build_plan(*setup.coordinator, *setup.target, settings.planning(mapping));
  } catch (const Error& e) {
    if (!planning_failure || e.kind() != ErrorKind::Usage) throw;
    *planning_failure = e;
    return setup;
  }
  log_plan(setup.plan);
  return setup;
}

std::vector<std::string> prefilled_tables(RunSetup& run, target::OnExisting on_existing) {
  if (on_existing == target::OnExisting::Truncate) return {};
  return target::target_tables_with_rows(*run.target, run.plan);
}

target::Deferral defer_for_load(RunSetup& run, const CopySettings& settings, const mapping::Mapping* mapping,
                                const std::set<std::string>& prefilled) {
  if (!settings.defer_indexes) return {};
  auto deferral = target::plan_deferral(*run.target, run.plan, prefilled);
  std::map<std::string, size_t> chunks;
  for (const auto& c : run.plan.chunks) ++chunks[run.plan.tables[c.table].target];
  bool splits = std::any_of(deferral.kept_self_references.begin(), deferral.kept_self_references.end(),
                            [&](const std::string& table) { return chunks[table] > 1; });
  if (splits) {
    auto planning = settings.planning(mapping);
    planning.split_self_referencing = false;
    run.plan = plan::build_plan(*run.coordinator, *run.target, planning);
  }
  target::apply_deferral(deferral, run.plan);
  plan::require_load_order(run.plan);
  return deferral;
}

}  // namespace pgblit::start
