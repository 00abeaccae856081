// The start every command shares: sessions on both servers, the snapshot exported and held
// by the coordinator for the whole run, and the plan built inside that snapshot.
#pragma once

#include <memory>
#include <string>

#include "partitioner/planner.hpp"
#include "pg/connection.hpp"

namespace pgblit::engine {

struct RunSetup {
  std::unique_ptr<pg::Connection> coordinator;  // source session holding the snapshot
  std::unique_ptr<pg::Connection> target;
  std::string snapshot_id;
  partitioner::Plan plan;
};

// Connects, exports the snapshot, plans and logs the plan's warnings; writes nothing.
RunSetup open_run(const std::string& source, const std::string& target, const partitioner::PlanOptions& options);

}  // namespace pgblit::engine
