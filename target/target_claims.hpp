// What a command must settle before it writes to target tables, whatever run catalog it uses:
//
// - The target's deferred objects belong to the target, not to a run. A run that was killed
//   (or failed) after dropping a table's indexes and constraints leaves their definitions in
//   its catalog; a later command that writes to the table without finishing them would leave
//   the table without its keys for good. So every command that writes (copy, restore,
//   rollback) first looks in every pgblit catalog on the target and refuses, naming the run
//   and the command that finishes it.
// - One run per target table at a time. Two commands with different --catalog-schema would
//   otherwise both load the same empty tables; each coordinator holds a session advisory lock
//   on every table it writes, keyed by the table's oid, for as long as it lives.
// - A run never resumes over rows another run wrote: resuming run N is refused when a later
//   run (in any catalog) wrote to one of its tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

// A run (in catalog `catalog`) with indexes or constraints it dropped and has not rebuilt.
struct PendingObjects {
  std::string catalog;
  int64_t run = 0;
  std::string kind;                 // "copy", "restore"
  std::vector<std::string> tables;  // the tables they belong to
  std::vector<std::string> names;   // "index "ix" on "s"."t"", ...
};

// The schemas on the target that hold a pgblit run catalog.
std::vector<std::string> catalogs_on(pg::Connection& target);

// Runs (any catalog) with dropped objects on `tables` (every table when empty).
std::vector<PendingObjects> pending_objects(pg::Connection& target, const std::vector<std::string>& tables = {});

// How to get one run's objects back, for messages: "pgblit copy --resume 3 ..., or ...".
std::string how_to_finish(const PendingObjects& pending);

// Refuses (usage error, nothing written) when a run other than `own_runs` of `own_catalog`
// left objects of `tables` dropped. `command` names what was refused ("copy", "restore").
void refuse_pending_objects_of_other_runs(pg::Connection& target, const std::vector<std::string>& tables,
                                          const std::string& own_catalog, const std::vector<int64_t>& own_runs,
                                          const std::string& command);

// Takes the session advisory lock of every table in `tables` on `target` (held until the
// session ends), or throws a usage error naming the table and the session that writes it.
void lock_target_tables(pg::Connection& target, const std::vector<std::string>& tables);

// Refuses to resume run `run` of `catalog` (started at `started_at`) when another run began
// after it and wrote to one of `tables`.
void refuse_resume_over_later_runs(pg::Connection& target, const std::vector<std::string>& tables,
                                   const std::string& catalog, int64_t run, const std::string& started_at);

}  // namespace pgblit::target
