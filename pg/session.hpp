// Sessions of a run: pinned settings on every connection, and the one exported snapshot
// that all source reads share, so a parallel copy is as consistent as one pg_dump.
#pragma once

#include <string>

#include "pg/connection.hpp"

namespace pgblit::pg {

// Opens a connection with the settings every pgblit session runs under: UTF8, UTC, ISO
// dates, exact floats, no statement or idle timeouts. Text-format copies depend on these
// being identical on both sides. A "source" session also runs with row_security = off, so
// every read of the source is whole or fails.
pg::Connection open_session(const std::string& conninfo, const std::string& role);

// Held by the coordinator connection for the whole run: a REPEATABLE READ, READ ONLY
// transaction whose snapshot the lanes import.
class Snapshot {
 public:
  explicit Snapshot(pg::Connection& coordinator);
  const std::string& id() const { return id_; }

 private:
  std::string id_;
};

// Starts a REPEATABLE READ, READ ONLY transaction on `conn` that sees exactly `snapshot_id`.
void join_snapshot(pg::Connection& conn, const std::string& snapshot_id);

// Ends whatever state a failure left a connection in (aborted transaction), ignoring errors.
void rollback_quietly(pg::Connection& conn);

}  // namespace pgblit::pg
