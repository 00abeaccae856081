// The dry run's checks for `--follow` (plan --follow, copy --follow --dry-run): what native
// logical replication needs on both servers, each finding named with its fix.
#pragma once

#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::source {

struct FollowFinding {
  bool error = false;  // no-go; otherwise a warning
  std::string what;
  std::string fix;
};

std::vector<FollowFinding> follow_checks(pg::Connection& source, pg::Connection& target, const plan::Plan& plan);

}  // namespace pgblit::source
