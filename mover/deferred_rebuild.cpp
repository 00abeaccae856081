// See deferred_rebuild.hpp.
#include "mover/deferred_rebuild.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "target/target_claims.hpp"
#include "pg/session.hpp"

namespace pgblit::mover {

void DeferredRebuild::record_and_drop(RunCatalog& catalog, pg::Connection& target, int64_t run,
                                      const target::Deferral& deferral) {
  std::vector<nlohmann::json> definitions;
  for (const auto& o : deferral.objects) definitions.push_back(target::to_json(o));
  catalog.record_deferred(run, definitions);
  for (const auto& o : deferral.objects) {
    if (auto sql = target::drop_sql(o); !sql.empty()) target.exec(sql, o.table);
  }
}

DeferredRebuild::DeferredRebuild(RunCatalog& catalog, int64_t run, const plan::Plan& plan,
                                 const std::string& target_conninfo, int index_jobs, pg::Cancellation& cancellation,
                                 double retry_timeout)
    : catalog_schema_(catalog.schema()), run_(run) {
  std::vector<bool> pending;
  for (const auto& record : catalog.deferred(run)) {
    objects_.push_back(target::object_from_json(record.definition));
    pending.push_back(!record.rebuilt);
    pending_ += !record.rebuilt;
  }
  if (pending_ == 0) return;
  auto tables = plan.target_tables();
  std::string schema = catalog_schema_;
  rebuilder_ = std::make_unique<target::Rebuilder>(
      objects_, pending, std::set<std::string>(tables.begin(), tables.end()), target_conninfo, index_jobs,
      [schema, run](pg::Connection& session, size_t object, double seconds) {
        RunCatalog(session, schema).mark_rebuilt(run, object, seconds);
      },
      cancellation, retry_timeout);
}

DeferredRebuild::~DeferredRebuild() = default;

void DeferredRebuild::table_loaded(const std::string& table) {
  if (rebuilder_) rebuilder_->table_loaded(table);
}

size_t DeferredRebuild::finish(pg::Connection& target) {
  if (!rebuilder_) return 0;
  rebuilder_->all_loaded();
  auto totals = rebuilder_->wait();
  rebuilder_.reset();
  return report(target, totals);
}

size_t DeferredRebuild::finish_loaded(pg::Connection& target) {
  if (!rebuilder_) return 0;
  auto totals = rebuilder_->wait_for_started();
  rebuilder_.reset();
  return report(target, totals);
}

size_t DeferredRebuild::report(pg::Connection& target, const target::RebuildTotals& totals) {
  std::vector<std::string> timings;
  for (const auto& [kind, count_seconds] : totals.by_kind) {
    timings.push_back(fmt::format("{}: {} in {:.2f} s", kind, count_seconds.first, count_seconds.second));
  }
  if (!timings.empty()) spdlog::info("rebuilt {} (build time summed over --index-jobs sessions)", fmt::join(timings, ", "));
  RunCatalog catalog(target, catalog_schema_);
  for (const auto& f : totals.failures) {
    spdlog::error("{}", f.message);
    if (!f.examples.empty()) spdlog::error("  offending keys (at most 10): {}", fmt::join(f.examples, " "));
    catalog.record_rebuild_failure(run_, f.object, f.message);
  }
  return totals.failures.size();
}

void settle_after_failure(const std::string& target_conninfo, const std::string& catalog_schema, int64_t run,
                          const plan::Plan& plan, const std::vector<std::string>& loaded, int index_jobs,
                          const pg::Cancellation& cancellation, double retry_timeout) noexcept {
  try {
    auto target = pg::open_session(target_conninfo, "target");
    RunCatalog catalog(target, catalog_schema);
    auto reason = cancellation.reason();
    if (!loaded.empty() && !reason.starts_with("interrupted") && !reason.starts_with("terminated")) {
      pg::Cancellation own;  // the run's was spent by the failure
      DeferredRebuild rebuild(catalog, run, plan, target_conninfo, index_jobs, own, retry_timeout);
      for (const auto& table : loaded) rebuild.table_loaded(table);
      rebuild.finish_loaded(target);
    }
    for (const auto& p : target::pending_objects(target)) {
      if (p.catalog != catalog_schema || p.run != run) continue;
      spdlog::error("{} indexes and constraints of {} stay dropped until then: {}", p.names.size(),
                    fmt::join(p.tables, ", "), fmt::join(p.names, "; "));
      spdlog::error("to get them back: {}", target::how_to_finish(p));
    }
  } catch (const std::exception& e) {
    spdlog::error("run {}: could not read which indexes and constraints stay dropped ({}); pgblit status {} lists them",
                  run, e.what(), run);
  }
}

}  // namespace pgblit::mover
