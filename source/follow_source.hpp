// What `copy --follow` keeps on the source while the target catches up: a logical replication
// slot (pgoutput) whose exported snapshot is the run's snapshot, and a publication of exactly
// the run's tables. PostgreSQL's own logical replication then applies what changes after that
// snapshot; pgblit never decodes WAL itself.
//
// A forgotten slot keeps WAL on the source's disk forever: every slot and publication is named
// in the target's run catalog (<catalog>.follows) before it is created, so `pgblit unfollow`
// and `pgblit cutover` find and drop them whatever interrupted the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::source {

// Why a table of the plan cannot be followed by native replication (it reshapes rows: another
// target name, renamed or computed columns, new keys, rescaled values); "" when it can.
std::string reshaping(const plan::TableCopy& table);

// Creates the publication for the plan's tables (each with its mapping filter as a row filter,
// and its copied columns as the column list, on PostgreSQL 15+), and proves in the same
// transaction that UPDATE and DELETE on each table still work once published (a table without
// a replica identity, or a row filter on columns outside it, would make the application's own
// UPDATEs fail). Throws a usage error naming the table and the fix; nothing is left then.
// `commit` false: all of it in a transaction rolled back (the check before anything is written).
void create_publication(pg::Connection& source, const std::string& name, const plan::Plan& plan,
                        bool commit = true);
void drop_publication(pg::Connection& source, const std::string& name);

// Drops the slot when it exists, waiting (up to `wait_seconds`) for its walsender to let go.
void drop_slot(pg::Connection& source, const std::string& slot, double wait_seconds = 30);

struct SlotState {
  bool exists = false;
  bool active = false;
  std::string confirmed_flush;  // LSN the subscriber confirmed applied ("" before any)
  std::string current;          // pg_current_wal_lsn() on the source
  int64_t lag_bytes = 0;        // current - confirmed_flush
  int64_t retained_bytes = 0;   // WAL the slot holds back on the source's disk
};
SlotState slot_state(pg::Connection& source, const std::string& slot);

// The source's WAL position now.
std::string current_lsn(pg::Connection& source);
// The slot's subscriber has confirmed everything up to `lsn`.
bool slot_confirmed(pg::Connection& source, const std::string& slot, const std::string& lsn);

}  // namespace pgblit::source
