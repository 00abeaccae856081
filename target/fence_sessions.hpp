// The other sessions of a database being fenced (copy --fence). Their open transactions could
// still write after the database's default turns read-only, so each must be ended; a role may
// end only the sessions PostgreSQL lets it signal (a superuser: any; otherwise those of roles
// whose privileges it has, or any non-superuser's with pg_signal_backend). A fence that would
// leave one running is no fence: the copy is refused before anything changes, naming them.
#pragma once

#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

struct OtherSession {
  int pid = 0;
  std::string user;
  std::string application;
  bool superuser = false;  // a superuser's session: only a superuser may end it
  bool may_end = false;    // this role may terminate it
};

// Client sessions of the connected database other than this one and `own` (pgblit's own).
// Sessions of roles this one has no privileges on show no backend type to it: they count too.
std::vector<OtherSession> other_sessions(pg::Connection& source, const std::vector<int>& own);

// Throws a usage error naming every session this role cannot end, and the privilege needed.
void require_endable(pg::Connection& source, const std::vector<OtherSession>& sessions, const std::string& database);

// Ends every other session (waiting for each to exit), then checks that none of them is left
// and that no session this role cannot end has connected meanwhile; throws a usage error if
// so. Returns how many were ended.
int end_other_sessions(pg::Connection& source, const std::vector<int>& own, const std::string& database);

}  // namespace pgblit::target
