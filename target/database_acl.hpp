// The source database's ACL under a fence (copy --fence --fence-revoke ROLE): revoking CONNECT
// must take effect, and lifting the fence must leave pg_database.datacl exactly as it was.
//
// A revoke takes effect only if nothing else grants the role CONNECT: not PUBLIC (which holds
// it by default, datacl NULL), not a role it belongs to, not a grant made by another grantor.
// That is checked before anything changes, by revoking inside a transaction that is rolled
// back. Lifting grants CONNECT back; but a REVOKE that empties a role's entry removes it, and
// the GRANT appends a new one at the end of the list: so every entry from the first one that
// differs is revoked and granted again in the recorded order (all of them are grants by the
// owner, which is what pgblit acts as). A NULL datacl is never touched: a database whose ACL is
// NULL grants CONNECT to PUBLIC, so a revoke is refused before it could make the ACL explicit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

// datacl::text of the connected database; std::nullopt when it is NULL (the defaults).
std::optional<std::string> database_acl(pg::Connection& source);

// Throws a usage error (nothing changed) when revoking CONNECT from one of `roles` would not
// stop it connecting, or would stop pgblit's own role; names the grant that is in the way.
void require_effective_revoke(pg::Connection& source, const std::string& database, const std::vector<std::string>& roles);

// Puts the ACL back to `recorded` (a datacl::text) after CONNECT was revoked from roles and
// granted again, inside the caller's transaction. Returns false when that cannot be done
// exactly (an entry granted by a role other than the owner would have to be recreated).
bool restore_acl_order(pg::Connection& source, const std::string& database, const std::string& recorded);

}  // namespace pgblit::target
