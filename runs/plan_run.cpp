// See plan_run.hpp.
#include "runs/plan_run.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>
#include <set>

#include "core/units.hpp"
#include "report/kept_estimate.hpp"
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

// The estimate kept in the run folder for the copy of this selection that follows. Never
// fails the dry run.
void keep_for_the_copy(const std::string& key, const PlanRunResult& result, const PlanRunOptions& options) {
  try {
    auto file = report::keep_estimate(options.run_dir, key, dryrun::to_json(result.dry_run.estimate), options.copy.jobs,
                                      options.job_file.empty() ? "" : std::filesystem::absolute(options.job_file).string());
    spdlog::info("estimate kept in {}: a copy of this selection within 24 h compares its run with it", file.string());
  } catch (const std::exception& e) {
    spdlog::warn("the estimate could not be kept in {} ({}): the copy's report will have none to compare with",
                 options.run_dir, e.what());
  }
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
    keep_for_the_copy(kept_estimate_key(run.plan, *run.coordinator, *run.target), result, options);
  }
  if (copy.follow) result.follow = source::follow_checks(*run.coordinator, *run.target, run.plan);
  result.plan = std::move(run.plan);
  return result;
}

std::string kept_estimate_key(const plan::Plan& plan, pg::Connection& source, pg::Connection& target) {
  std::vector<std::string> tables;
  for (const auto& t : plan.tables) tables.push_back(t.source + " -> " + t.target);
  auto from = start::identify(source), into = start::identify(target);
  return report::estimate_key(from.cluster + "/" + from.database + " -> " + into.cluster + "/" + into.database, tables);
}

}  // namespace pgblit::runs
