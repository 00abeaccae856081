// Fencing the source for an offline move (copy --fence): for the whole run, nobody but pgblit
// writes to the source database. Before anything changes on the source, what will change is
// written down in the target's run catalog (<catalog>.fences, committed); then the database's
// default becomes read-only (ALTER DATABASE ... SET default_transaction_read_only = on, so
// every new session is read-only), CONNECT is revoked from the named roles, and every other
// session of the database is terminated (their open transactions could still write). pgblit
// itself only ever reads the source, so it is not held up.
//
// Undone at the end of the run, on failure and on Ctrl-C (the Fence's destructor); after a
// crash `pgblit unfence` undoes what the catalog says is still in place. The setting is a fence
// against applications, not against a role that sets default_transaction_read_only back
// itself. Needs: the database's owner (or superuser) for ALTER DATABASE and REVOKE, and
// pg_signal_backend (or the same role) to terminate sessions. A fence holds or the run does
// not start: sessions the role cannot end and revokes that would not take effect are refused
// before anything changes (fence_sessions.hpp, database_acl.hpp), and the ACL is put back
// exactly as it was.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

class Fence {
 public:
  // Fences the source database of `source_conninfo`, recording it first in `catalog_schema`
  // on `target`. Throws a usage error (nothing changed) when the role may not fence.
  // `own_sessions`: backend pids of pgblit's own source sessions, which stay.
  Fence(const std::string& source_conninfo, const std::string& target_conninfo, const std::string& catalog_schema,
        const std::vector<std::string>& revoke_from, const std::vector<int>& own_sessions);
  // The same checks, before anything else of the run (no change, nothing recorded): throws the
  // usage error the constructor would.
  static void require_possible(const std::string& source_conninfo, const std::vector<std::string>& revoke_from);
  ~Fence();  // lifts it (best effort; failures are logged with the command to finish by hand)
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;

  void lift();
  // The fence outlives this object (pgblit cutover: the old source stays read-only until the
  // DBA lifts it with pgblit unfence); it stays recorded as in place in the catalog.
  void leave_in_place() { lifted_ = true; }
  int64_t id() const { return id_; }

 private:
  std::string source_, target_, catalog_;
  int64_t id_ = 0;
  bool lifted_ = false;
};

// `pgblit unfence`: lifts every fence the target's catalog records as still in place on the
// source database of `source_conninfo`; returns how many.
int unfence(const std::string& source_conninfo, const std::string& target_conninfo, const std::string& catalog_schema);

}  // namespace pgblit::target
