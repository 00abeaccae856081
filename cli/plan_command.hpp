// `pgblit plan` (= `pgblit copy --dry-run`): flags -> runs::PlanRunOptions -> runs::plan_run
// (the dry run, runs/plan_run.hpp, which also keeps its estimate for the copy that follows),
// printed as a table or JSON with a go/no-go (exit 0 or 5).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "core/defaults.hpp"
#include "dryrun/dry_run.hpp"
#include "runs/plan_run.hpp"

namespace pgblit::cli {

// The dry run's own flags (plan, and copy with --dry-run); `prefix` starts each help text.
void add_dry_run_flags(CLI::App& cmd, dryrun::DryRunOptions& options, const std::string& prefix);

struct PlanCommand {
  runs::PlanRunOptions options;
  bool json = false;  // --json: the whole plan, every chunk with its predicate
};

std::function<int()> add_plan_command(CLI::App& app);
// The dry run, printed: exit 0 for go, 5 for no-go.
int run_plan(PlanCommand& command);

}  // namespace pgblit::cli
