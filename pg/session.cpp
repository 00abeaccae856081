// See session.hpp.
#include "pg/session.hpp"

#include <fmt/format.h>

namespace pgblit::pg {

pg::Connection open_session(const std::string& conninfo, const std::string& role) {
  auto conn = pg::Connection::open(conninfo, role);
  conn.exec(
      "SET client_encoding TO 'UTF8'; SET timezone TO 'UTC'; SET datestyle TO 'ISO, YMD'; "
      "SET intervalstyle TO 'postgres'; SET extra_float_digits TO 3; SET bytea_output TO 'hex'; "
      "SET statement_timeout TO 0; SET lock_timeout TO 0; SET idle_in_transaction_session_timeout TO 0",
      "session settings");
  // As pg_dump does: a source table that row-level security would filter for this role is
  // refused by the server ("query would be affected by row-level security policy") instead of
  // read as a subset that then verifies against itself.
  if (role == "source") conn.exec("SET row_security TO off", "session settings");
  return conn;
}

Snapshot::Snapshot(pg::Connection& coordinator) {
  coordinator.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "snapshot");
  id_ = coordinator.exec("SELECT pg_export_snapshot()", "snapshot").text(0, 0);
}

void join_snapshot(pg::Connection& conn, const std::string& snapshot_id) {
  conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "snapshot");
  // SET TRANSACTION SNAPSHOT takes no parameters, so the id is checked to be what the server
  // makes (hex digits and dashes) before it is put into the statement.
  if (snapshot_id.empty() || snapshot_id.find_first_not_of("0123456789ABCDEFabcdef-") != std::string::npos) {
    throw usage_error(fmt::format("'{}' is not a snapshot id", snapshot_id), snapshot_id,
                      "use the id pg_export_snapshot() returned, e.g. 00000003-0000001B-1");
  }
  conn.exec(fmt::format("SET TRANSACTION SNAPSHOT '{}'", snapshot_id), "snapshot " + snapshot_id);
}

void rollback_quietly(pg::Connection& conn) {
  PQclear(PQexec(conn.raw(), "ROLLBACK"));
}

}  // namespace pgblit::pg
