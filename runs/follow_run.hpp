// `copy --follow`, `pgblit cutover` and `pgblit unfollow`: the copy reads the snapshot of a
// logical replication slot, then a subscription on the target applies what changed since, with
// PostgreSQL's own logical replication, until the cutover fences the source, waits for the
// target to apply everything up to the fence, checks, sets sequences and drops the
// subscription, the slot and the publication. Everything created is named first in
// <catalog>.follows, so every path (Ctrl-C, a crash, a failed check) is resolved by running
// `pgblit cutover` again or by `pgblit unfollow`. docs/follow.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/events.hpp"
#include "plan/plan.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"
#include "runs/verify_run.hpp"

namespace pgblit::runs {

struct FollowRecord {
  int64_t run_id = 0;
  std::string slot, publication, subscription;
  std::string state;         // starting, copying, resuming (follow_resume.hpp), following, cutover, done, unfollowed
  std::string snapshot_lsn;  // the slot's consistent point: the copy's rows are exactly those before it
  std::string fence_lsn;     // the source's WAL position once fenced (cutover)
  std::string key_slot;      // the slot the cutover reads changed keys from ("" in older catalogs)
};

// <catalog>.follows on the target.
class FollowCatalog {
 public:
  FollowCatalog(pg::Connection& target, std::string schema);
  void create_table();
  bool exists();
  FollowRecord add(int64_t run);  // names chosen, state "starting"
  std::optional<FollowRecord> load(int64_t run);
  std::vector<FollowRecord> open_follows();  // everything not done or unfollowed
  void set(int64_t run, const std::string& column, const std::string& value);

 private:
  pg::Connection& target_;
  std::string schema_, table_;
};

// Refuses, before anything is written (exit 2), what cannot follow: a mapping that reshapes
// rows, and every error of the dry run's follow checks (wal_level, slots, privileges, replica
// identities); then creates the publication in a transaction rolled back, proving its row
// filters and the tables' UPDATE and DELETE once published.
void require_followable(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                        const plan::Plan& plan);

// copy --follow, once the run is recorded: the names recorded, the publication, then the slot;
// the coordinator moves into the slot's exported snapshot and exports it again for the lanes
// (the walsender's export lives only until its connection runs another command). Returns the
// snapshot id the lanes import.
std::string start_follow(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                         const std::string& catalog, int64_t run, const plan::Plan& plan);

// copy --follow, once every table is loaded, its keys rebuilt and verified: the subscription.
void begin_following(pg::Connection& target, const std::string& subscription_conninfo, const std::string& catalog,
                     int64_t run);

// The lag of a following run, for pgblit status: seconds from the target's pg_stat_subscription,
// bytes from the slot (when the source is given).
nlohmann::json follow_status(pg::Connection& target, const std::string& catalog, int64_t run,
                             const std::string& source_conninfo);

// The follow_lag event (docs/events.md) from a follow_status: copy --follow emits it once it
// follows, pgblit status --watch at every refresh of a following run.
void emit_follow_lag(Events& events, const nlohmann::json& status, int64_t run);

// The connections, the run catalog and -j are `pgblit verify`'s: --check full is `pgblit verify
// --run RUN` over the run's own selection.
struct CutoverOptions : VerifyOptions {
  int64_t run = 0;
  std::string check = "changes";  // changes | counts | full
  double timeout = 600;           // seconds to wait for the target to catch up
  std::vector<std::string> fence_revoke;
  std::string run_dir = kDefaultRunDir;  // where cutover.json goes (<run_dir>/<run>/)
};

struct CutoverResult {
  double downtime_seconds = 0;  // fence -> target ready
  double catch_up_seconds = 0;  // fence -> everything applied
  double drain_seconds = 0;     // reading the key slot before the fence (not downtime)
  double check_seconds = 0;     // reading the last keys and comparing, after the fence
  int64_t rows_compared = 0;    // --check changes: changed rows compared
  std::string check;            // the check made
  std::string fence_lsn;
  int sequences = 0;
  size_t tables_checked = 0;
};

CutoverResult cutover(const CutoverOptions& options, pg::Cancellation& cancellation);

struct UnfollowOptions {
  std::string source;  // connection strings
  std::string target;
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;  // 0 with `all`
  bool all = false;  // every open follow of the catalog
};

// Drops the subscription, slot and publication of the run (or of every open follow); the run
// becomes "unfollowed". Returns the runs resolved.
std::vector<int64_t> unfollow(const UnfollowOptions& options);

}  // namespace pgblit::runs
