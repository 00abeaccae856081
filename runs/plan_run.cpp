// See plan_run.hpp.
#include "runs/plan_run.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <set>

#include "core/units.hpp"
#include "start/run_setup.hpp"

namespace pgblit::runs {
namespace {

// Whether the measured estimate fits --window, logged (the copy's report judges the actual time).
void log_window_fit(const dryrun::Estimate& estimate, double window) {
  if (window <= 0) return;
  bool fits = estimate.high <= window, might = estimate.seconds <= window;
  spdlog::log(fits ? spdlog::level::info : spdlog::level::warn, "the estimate ({:.0f} s, up to {:.0f} s) {} the {} window{}",
              estimate.seconds, estimate.high, fits ? "fits" : might ? "may not fit" : "does not fit",
              human_duration(window), fits ? "" : ": the copy would run over it");
}

}  // namespace

PlanRunResult plan_run(const PlanRunOptions& options) {
  const auto& copy = options.copy;
  std::optional<mapping::Mapping> mapping;
  if (!copy.mapping_file.empty()) mapping = mapping::load_mapping(copy.mapping_file);
  const mapping::Mapping* rules = mapping ? &*mapping : nullptr;
  PlanRunResult result;
  std::optional<Error> planning_failure;
  auto run = start::open_run(copy, rules, &planning_failure);
  if (!planning_failure) {
    auto filled = start::prefilled_tables(run, copy.on_existing);
    try {
      result.deferral = start::defer_for_load(run, copy, rules, {filled.begin(), filled.end()});
    } catch (const Error& e) {  // a cycle of foreign keys kept in place
      planning_failure = e;
    }
  }
  if (planning_failure) {
    result.dry_run = dryrun::failed_plan(*planning_failure);
    return result;
  }
  result.planned = true;
  result.dry_run = dryrun::dry_run(run, result.deferral, copy, options.dry_run, rules);
  if (result.dry_run.estimate.measured) {
    log_window_fit(result.dry_run.estimate, copy.window_seconds);
    auto source = start::identify(*run.coordinator), target = start::identify(*run.target);
    result.databases = source.cluster + "/" + source.database + " -> " + target.cluster + "/" + target.database;
  }
  if (copy.follow) result.follow = source::follow_checks(*run.coordinator, *run.target, run.plan);
  result.plan = std::move(run.plan);
  return result;
}

}  // namespace pgblit::runs
