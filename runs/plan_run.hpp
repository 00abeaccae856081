// `pgblit plan` (= `pgblit copy --dry-run`): the dry run of a copy. Connects to both servers
// and starts exactly as the copy does (start::open_run, prefilled_tables, defer_for_load: the
// same plan, the same split or whole self-referencing tables, the same deferral), then counts
// what the copy would meet on the real rows, measures the estimate and, with --follow, checks
// what following needs. Writes nothing on either server; its measured estimate is kept in the
// run folder for the copy that follows (report/kept_estimate.hpp), so that copy's report
// compares the night with it.
#pragma once

#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "dryrun/dry_run.hpp"
#include "start/copy_settings.hpp"
#include "pg/connection.hpp"
#include "plan/plan.hpp"
#include "source/follow_checks.hpp"
#include "target/deferred.hpp"

namespace pgblit::runs {

struct PlanRunOptions {
  start::CopySettings copy;        // the copy planned: plan's flags are copy's
  dryrun::DryRunOptions dry_run;   // the go/no-go threshold and how the data is checked
  std::string run_dir = kDefaultRunDir;  // the estimate is kept there for the copy that follows
  std::string job_file;                  // the job file planned (--job), recorded with the kept estimate
};

struct PlanRunResult {
  bool planned = false;          // false: the copy cannot be planned, and dry_run says why
  plan::Plan plan;
  target::Deferral deferral;     // what the copy would drop for the load and rebuild
  dryrun::DryRun dry_run;
  std::vector<source::FollowFinding> follow;  // with --follow
};

PlanRunResult plan_run(const PlanRunOptions& options);

// The key under which the dry run keeps its estimate and the copy looks for it
// (report/kept_estimate.hpp): both databases as identified on their sessions, and each table
// of `plan` as "source -> target". One function, so the copy finds what its plan kept.
std::string kept_estimate_key(const plan::Plan& plan, pg::Connection& source, pg::Connection& target);

}  // namespace pgblit::runs
