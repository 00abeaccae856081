// Checks of the target before a run writes anything to it: that it can be written at all
// (not a hot standby, not read-only by default), that the role holds every privilege the run
// needs (INSERT, and TRUNCATE or SELECT where the options need them; CREATE for the run
// catalog), that the run catalog's schema holds none of the copied tables, and that both
// servers have the connection slots `-j` needs. Every problem is listed at once, with its
// object and fix, as one usage error (exit 2): found before the first row, not after.
#pragma once

#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::target {

struct PreflightOptions {
  int jobs = default_jobs();
  int index_jobs = default_jobs();          // deferred indexes and constraints rebuilt at once
  bool truncate = false;       // --on-existing truncate
  bool verify = true;          // reads the target back
  std::string catalog_schema;  // where the run catalog lives
  bool same_cluster = false;   // source and target databases share one server: slots add up
};

// Connections a run opens at most: on the target, a session for each lane and for each of
// the table finisher's -j verification reads, the coordinator's, the finisher's own and the
// lock-wait reporter's, and one for each rebuild of deferred indexes and constraints; on the
// source, one for each lane and the coordinator's.
int target_connections_needed(int jobs, int index_jobs);
int source_connections_needed(int jobs);

// Every problem found, each with the object, what is wrong and the fix (the dry run reports them).
struct TargetProblem {
  std::string object;
  std::string problem;
  std::string fix;
};
std::vector<TargetProblem> target_problems(pg::Connection& target, pg::Connection& source,
                                           const plan::Plan& plan, const PreflightOptions& options);

// The same, thrown as one usage error listing them all (copy refuses to start).
void check_target(pg::Connection& target, pg::Connection& source, const plan::Plan& plan,
                  const PreflightOptions& options);

}  // namespace pgblit::target
