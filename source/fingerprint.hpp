// Whether the source changed since a run began, cheaply: per table the statistics counters of
// inserted, updated and deleted rows and the table's file node (a TRUNCATE, VACUUM FULL or
// CLUSTER gives it a new one). Read when a run starts, compared when it resumes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"
#include "plan/plan.hpp"

namespace pgblit::source {

// A cheap fingerprint of the source tables (statistics counters and file nodes), to tell on
// resume whether the source changed since the run began.
nlohmann::json source_state(pg::Connection& source, const plan::Plan& plan);
// The tables whose fingerprint differs (or cannot be compared: statistics were reset).
std::vector<std::string> changed_tables(const nlohmann::json& before, const nlohmann::json& now);


}  // namespace pgblit::source
