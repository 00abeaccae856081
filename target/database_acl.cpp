// See database_acl.hpp.
#include "target/database_acl.hpp"

#include <fmt/format.h>

#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

struct AclEntry {
  std::string text;                     // the aclitem as the server prints it
  std::string grantee;                  // quoted role, or PUBLIC
  bool by_owner = false;                // granted by the database's owner
  std::vector<std::string> privileges;  // CREATE, TEMPORARY, CONNECT
  std::vector<std::string> grantable;   // the same, WITH GRANT OPTION
};

// The entries of `acl` (an aclitem[] literal), or of the database's own datacl, in order.
std::vector<AclEntry> entries(pg::Connection& source, const std::optional<std::string>& acl) {
  auto r = source.exec_params(R"(
SELECT u.item::text, CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE e.grantee::regrole::text END, bool_and(e.grantor = d.datdba),
       COALESCE(array_agg(e.privilege_type) FILTER (WHERE NOT e.is_grantable), '{}'),
       COALESCE(array_agg(e.privilege_type) FILTER (WHERE e.is_grantable), '{}')
FROM pg_database d, unnest(COALESCE($1::aclitem[], d.datacl)) WITH ORDINALITY u(item, n), aclexplode(ARRAY[u.item]) e
WHERE d.datname = current_database()
GROUP BY u.n, u.item::text, 2 ORDER BY u.n)",
                              {acl}, "the database's ACL");
  std::vector<AclEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.text(i, 0), r.text(i, 1), r.boolean(i, 2), r.text_array(i, 3), r.text_array(i, 4)});
  }
  return out;
}

}  // namespace

std::optional<std::string> database_acl(pg::Connection& source) {
  auto r = source.exec("SELECT datacl::text FROM pg_database WHERE datname = current_database()", "datacl");
  if (r.is_null(0, 0)) return std::nullopt;
  return r.text(0, 0);
}

void require_effective_revoke(pg::Connection& source, const std::string& database, const std::vector<std::string>& roles) {
  if (roles.empty()) return;
  auto db = pg::quote_ident(database);
  bool public_connect = source.exec(R"(
SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) e
               WHERE d.datname = current_database() AND e.grantee = 0 AND e.privilege_type = 'CONNECT'))",
                                    "the database's ACL")
                            .boolean(0, 0);
  if (public_connect) {
    throw usage_error(
        fmt::format("--fence-revoke {}: PUBLIC has CONNECT on the source database {}, so revoking it from {} would not "
                    "keep {} out; nothing was changed",
                    fmt::join(roles, ", "), db, roles.size() == 1 ? "that role" : "those roles",
                    roles.size() == 1 ? "it" : "them"),
        database,
        fmt::format("REVOKE CONNECT ON DATABASE {} FROM PUBLIC, and GRANT CONNECT ON DATABASE {} TO each role that "
                    "needs it (pgblit does not change PUBLIC's privileges itself); or fence without --fence-revoke",
                    db, db));
  }
  // Revoked in a transaction that is rolled back: what would each role keep?
  std::vector<std::string> kept;
  bool self = false;
  source.exec("BEGIN", database);
  try {
    for (const auto& role : roles) {
      source.exec(fmt::format("REVOKE CONNECT ON DATABASE {} FROM {}", db, pg::quote_ident(role)), role);
    }
    for (const auto& role : roles) {
      auto r = source.exec_params("SELECT has_database_privilege(to_regrole($1), current_database(), 'CONNECT'), "
                                  "(SELECT rolsuper FROM pg_roles WHERE oid = to_regrole($1))",
                                  {pg::quote_ident(role)}, role);
      if (r.boolean(0, 0)) kept.push_back(fmt::format("{}{}", pg::quote_ident(role), r.boolean(0, 1) ? " (a superuser)" : ""));
    }
    self = !source.exec("SELECT has_database_privilege(current_user, current_database(), 'CONNECT')", database)
                .boolean(0, 0);
    source.exec("ROLLBACK", database);
  } catch (...) {
    pg::rollback_quietly(source);
    throw;
  }
  if (self) {
    throw usage_error(fmt::format("--fence-revoke {} would revoke CONNECT from pgblit's own role too, and its copy "
                                  "sessions could not connect; nothing was changed",
                                  fmt::join(roles, ", ")),
                      database, "revoke CONNECT only from the applications' roles");
  }
  if (!kept.empty()) {
    throw usage_error(fmt::format("--fence-revoke: {} would still have CONNECT on the source database {} after the "
                                  "revoke (a superuser, a role it belongs to has it, or another role granted it); "
                                  "nothing was changed",
                                  fmt::join(kept, ", "), db),
                      database,
                      "revoke CONNECT where it is granted (see \\l+ in psql), or fence without --fence-revoke");
  }
}

bool restore_acl_order(pg::Connection& source, const std::string& database, const std::string& recorded) {
  auto want = entries(source, recorded);
  auto have = entries(source, std::nullopt);
  size_t same = 0;
  while (same < want.size() && same < have.size() && want[same].text == have[same].text) ++same;
  if (same == want.size() && same == have.size()) return true;
  for (size_t i = same; i < have.size(); ++i) {
    if (!have[i].by_owner) return false;
  }
  for (size_t i = same; i < want.size(); ++i) {
    if (!want[i].by_owner) return false;
  }
  auto db = pg::quote_ident(database);
  for (size_t i = same; i < have.size(); ++i) {
    source.exec(fmt::format("REVOKE ALL ON DATABASE {} FROM {}", db, have[i].grantee), have[i].grantee);
  }
  for (size_t i = same; i < want.size(); ++i) {
    const auto& e = want[i];
    if (!e.privileges.empty()) {
      source.exec(fmt::format("GRANT {} ON DATABASE {} TO {}", fmt::join(e.privileges, ", "), db, e.grantee), e.grantee);
    }
    if (!e.grantable.empty()) {
      source.exec(fmt::format("GRANT {} ON DATABASE {} TO {} WITH GRANT OPTION", fmt::join(e.grantable, ", "), db,
                              e.grantee),
                  e.grantee);
    }
  }
  return true;
}

}  // namespace pgblit::target
