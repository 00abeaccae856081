// Checks and preparation of the target before the first row is written.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::target {

enum class OnExisting { Error, Truncate, Append };

// --disable-triggers sets session_replication_role, which only a superuser may.
void require_superuser_for_disable_triggers(pg::Connection& target);

// The target tables of the plan that already hold rows.
std::vector<std::string> target_tables_with_rows(pg::Connection& target, const plan::Plan& plan);

// Empties every target table of the plan in one statement (partitioned tables with their partitions).
void truncate_target_tables(pg::Connection& target, const plan::Plan& plan);

// ANALYZE the loaded tables but those `already` analyzed, so the planner has statistics on
// the first query after the move. Returns how many it analyzed.
size_t analyze_target_tables(pg::Connection& target, const plan::Plan& plan,
                             const std::set<std::string>& already = {});

}  // namespace pgblit::target
