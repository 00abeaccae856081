// The start every command shares: sessions on both servers, the check that they are two
// different databases, the snapshot exported and held by the coordinator for the whole run,
// and the plan built inside that snapshot.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "start/copy_settings.hpp"
#include "plan/planner.hpp"
#include "pg/connection.hpp"
#include "target/deferred.hpp"

namespace pgblit::start {

// Which database a session is connected to, whatever the connection string said: the
// cluster's system identifier (or, where the role may not read it, the postmaster's start
// time and port) and the database's OID.
struct DatabaseIdentity {
  std::string cluster;
  int64_t database_oid = 0;
  std::string database;
  std::string server_version;
  bool same_database_as(const DatabaseIdentity& other) const {
    return cluster == other.cluster && database_oid == other.database_oid;
  }
};

DatabaseIdentity identify(pg::Connection& conn);

// Throws a usage error when source and target are one database (a copy would read what it
// empties or writes); returns whether they share one cluster (their connection slots add up).
bool require_distinct_databases(pg::Connection& source, pg::Connection& target);

struct RunSetup {
  std::unique_ptr<pg::Connection> coordinator;  // source session holding the snapshot
  std::unique_ptr<pg::Connection> target;
  std::string snapshot_id;
  plan::Plan plan;
  bool same_cluster = false;  // source and target databases live on one server
};

// Connects, checks source and target are different databases and exports the snapshot; no plan.
RunSetup open_sessions(const std::string& source, const std::string& target);
// The plan's warnings and text-format tables, logged.
void log_plan(const plan::Plan& plan);

// The start of a copy and of its dry run, one path so the plan the dry run shows is the plan
// the copy executes: open_run, then prefilled_tables, then defer_for_load (the copy checks the
// target in between).
//
// open_sessions, then plans a copy with `settings` (and `mapping`, or null) and logs the plan's
// warnings; writes nothing. With `planning_failure`, a plan the target cannot take (a missing
// table, an incompatible column: a usage error of the planner) is stored there instead of
// thrown (the dry run reports it).
RunSetup open_run(const CopySettings& settings, const mapping::Mapping* mapping,
                  std::optional<Error>* planning_failure = nullptr);

// The target tables whose rows stay through the load: those that hold rows, except with
// --on-existing truncate, which empties them first.
std::vector<std::string> prefilled_tables(RunSetup& run, target::OnExisting on_existing);

// With --indexes defer, what a copy drops for the load (the tables in `prefilled` keep theirs),
// applied to the plan; without, nothing. A table whose foreign key to itself stays in place is
// planned again in one piece: split, each chunk's rows would be checked alone and a row whose
// parent lies in a later chunk refused. Throws a usage error when kept foreign keys form a cycle.
target::Deferral defer_for_load(RunSetup& run, const CopySettings& settings, const mapping::Mapping* mapping,
                                const std::set<std::string>& prefilled);

}  // namespace pgblit::start
