// See replication.hpp.
#include "pg/replication.hpp"

#include <fmt/format.h>

#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/sql.hpp"

namespace pgblit::pg {

ReplicationConnection::ReplicationConnection(const std::string& conninfo) {
  // Connection::open first: the same parsing, the same errors and hints, passwords registered
  // for scrubbing; then the walsender connection with the same string. Later keywords win over
  // the expanded string's own, so replication=database is pgblit's to set.
  auto probe = Connection::open(conninfo, "source");
  display_ = probe.display();
  const char* keywords[] = {"dbname", "fallback_application_name", "replication", nullptr};
  const char* values[] = {conninfo.c_str(), "pgblit", "database", nullptr};
  conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string why = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw Error(ErrorKind::Usage,
                fmt::format("cannot open a replication connection to the source ({}): {}", display_,
                            scrub_password(why, conninfo)),
                display_,
                "the role needs the REPLICATION attribute (or superuser), and pg_hba.conf must allow it "
                "(a 'replication' line is for physical replication; logical uses the database's own lines)");
  }
}

CreatedSlot ReplicationConnection::create_logical_slot(const std::string& name) {
  // PostgreSQL 15 took the option list form; the older keyword is gone in later versions.
  std::string options = PQserverVersion(conn_.get()) >= 150000 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT";
  std::string sql = fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}", quote_ident(name), options);
  Result r(PQexec(conn_.get(), sql.c_str()));
  if (!r.get() || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw server_error(conn_.get(), r.get(), "creating the replication slot", name);
  }
  return {r.text(0, 0), r.text(0, 1), r.text(0, 2)};
}

}  // namespace pgblit::pg
