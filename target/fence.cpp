// See fence.hpp.
#include "target/fence.hpp"

#include "core/defaults.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "target/database_acl.hpp"
#include "target/fence_sessions.hpp"

namespace pgblit::target {
namespace {

std::string table(const std::string& catalog) { return pg::quote_ident(catalog) + ".fences"; }

void create_table(pg::Connection& target, const std::string& catalog) {
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", pg::quote_ident(catalog)), catalog);
  bool existed = target.exec_params("SELECT to_regclass($1) IS NOT NULL", {table(catalog)}, catalog).boolean(0, 0);
  target.exec(fmt::format(R"(CREATE TABLE IF NOT EXISTS {} (
  id bigserial PRIMARY KEY,
  source_database oid NOT NULL,
  database_name text NOT NULL,
  previous_setting text,             -- the database's own default_transaction_read_only before, if any
  revoked text[] NOT NULL,           -- roles CONNECT was revoked from
  fenced_at timestamptz NOT NULL DEFAULT now(),
  lifted_at timestamptz))",
                          table(catalog)),
              catalog);
  // datacl before, as JSON: a string (its text), or null for a NULL datacl. SQL NULL in a
  // record from before this column: unknown, so only CONNECT is granted back.
  target.exec(fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS previous_acl jsonb", table(catalog)), catalog);
  if (!existed) {  // pgblit's own, as the run catalog's tables are
    target.exec(fmt::format("COMMENT ON TABLE {} IS {}", table(catalog), pg::quote_literal(kCatalogTableMarker)), catalog);
  }
}

struct Record {
  int64_t id = 0;
  std::string database;
  std::optional<std::string> previous;
  std::vector<std::string> revoked;
  std::optional<nlohmann::json> previous_acl;  // string or null; nullopt: not recorded
};

std::string acl_text(const std::optional<std::string>& acl) { return acl ? *acl : "NULL"; }

void put_back(pg::Connection& source, const Record& r, bool exact_order) {
  auto db = pg::quote_ident(r.database);
  source.exec(r.previous ? fmt::format("ALTER DATABASE {} SET default_transaction_read_only = {}", db,
                                       pg::quote_literal(*r.previous))
                         : fmt::format("ALTER DATABASE {} RESET default_transaction_read_only", db),
              r.database);
  for (const auto& role : r.revoked) {
    source.exec(fmt::format("GRANT CONNECT ON DATABASE {} TO {}", db, pg::quote_ident(role)), role);
  }
  if (exact_order && r.previous_acl && r.previous_acl->is_string() && !r.revoked.empty()) {
    if (!restore_acl_order(source, r.database, r.previous_acl->get<std::string>())) {
      throw Error(ErrorKind::Runtime, "an entry of the ACL was granted by a role other than the owner", r.database);
    }
  }
}

// Puts the source back as the record says, in one transaction, with the ACL exactly as it was
// (if that cannot be done, CONNECT is granted back and the difference is logged).
void lift_on_source(pg::Connection& source, const Record& r) {
  try {
    source.exec("BEGIN", r.database);
    put_back(source, r, true);
    source.exec("COMMIT", r.database);
  } catch (const Error& e) {
    pg::rollback_quietly(source);
    spdlog::warn("fence {}: could not put the ACL of {} back in its order ({}); granting CONNECT back only", r.id,
                 pg::quote_ident(r.database), e.what());
    put_back(source, r, false);
  }
  if (r.previous_acl && !r.revoked.empty()) {
    std::optional<std::string> was;
    if (r.previous_acl->is_string()) was = r.previous_acl->get<std::string>();
    auto now = database_acl(source);
    if (now != was) {
      spdlog::warn("fence {}: the ACL of {} is {}, it was {} before the fence", r.id, pg::quote_ident(r.database),
                   acl_text(now), acl_text(was));
    }
  }
}

// Puts the source back as the record says, then marks the record lifted on the target.
void lift(pg::Connection& source, pg::Connection& target, const std::string& catalog, const Record& r) {
  lift_on_source(source, r);
  target.exec_params(fmt::format("UPDATE {} SET lifted_at = now() WHERE id = $1", table(catalog)),
                     {std::to_string(r.id)}, catalog);
  spdlog::info("lifted fence {} on the source database {}", r.id, r.database);
}

std::vector<Record> active(pg::Connection& target, const std::string& catalog, int64_t database_oid) {
  // A catalog from before previous_acl existed: read it as not recorded.
  bool has_acl = target.exec_params("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) "
                                    "AND attname = 'previous_acl' AND NOT attisdropped)",
                                    {table(catalog)}, catalog)
                     .boolean(0, 0);
  auto r = target.exec_params(fmt::format("SELECT id, database_name, previous_setting, revoked, {} FROM {} "
                                          "WHERE source_database = $1 AND lifted_at IS NULL ORDER BY id DESC",
                                          has_acl ? "previous_acl::text" : "NULL", table(catalog)),
                              {std::to_string(database_oid)}, catalog);
  std::vector<Record> out;
  for (int i = 0; i < r.rows(); ++i) {
    Record rec{r.int64(i, 0), r.text(i, 1), std::nullopt, r.text_array(i, 3), std::nullopt};
    if (!r.is_null(i, 2)) rec.previous = r.text(i, 2);
    if (!r.is_null(i, 4)) rec.previous_acl = nlohmann::json::parse(r.text(i, 4));
    out.push_back(std::move(rec));
  }
  return out;
}

// A session of a fenced database starts read-only like any other: lifting needs it writable.
pg::Connection lifting_session(const std::string& conninfo) {
  auto source = pg::open_session(conninfo, "source");
  source.exec("SET default_transaction_read_only = off");
  return source;
}

int64_t database_oid(pg::Connection& source) {
  return source.exec("SELECT oid FROM pg_database WHERE datname = current_database()").int64(0, 0);
}

}  // namespace

namespace {

// What the fence needs, checked before anything changes; returns the row of (database, its
// oid, may fence, its own default_transaction_read_only).
pg::Result require_fence_holds(pg::Connection& source, const std::vector<std::string>& revoke_from,
                               const std::vector<int>& own_sessions) {
  auto who = source.exec(R"(
SELECT current_database(), d.oid, pg_has_role(current_user, d.datdba, 'MEMBER') OR r.rolsuper,
       (SELECT substr(s, length('default_transaction_read_only=') + 1)
        FROM pg_db_role_setting c, unnest(c.setconfig) s
        WHERE c.setdatabase = d.oid AND c.setrole = 0 AND s LIKE 'default_transaction_read_only=%')
FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user)");
  std::string database = who.text(0, 0);
  if (!who.boolean(0, 2)) {
    throw usage_error(fmt::format("--fence needs the source database {}'s owner (or a superuser) to make it read-only",
                                  pg::quote_ident(database)),
                      database, "connect to the source as its owner for the copy, or fence it yourself and copy without --fence");
  }
  for (const auto& role : revoke_from) {
    if (source.exec_params("SELECT to_regrole($1) IS NULL", {pg::quote_ident(role)}).boolean(0, 0)) {
      throw usage_error(fmt::format("--fence-revoke {}: no such role on the source", role), role, "name an existing role");
    }
  }
  // A fence holds or the run does not start: a revoke that would not keep a role out, or a
  // session this role cannot end, is refused here.
  require_effective_revoke(source, database, revoke_from);
  require_endable(source, other_sessions(source, own_sessions), database);
  return who;
}

}  // namespace

void Fence::require_possible(const std::string& source_conninfo, const std::vector<std::string>& revoke_from) {
  auto source = pg::open_session(source_conninfo, "source");
  require_fence_holds(source, revoke_from, {});
}

Fence::Fence(const std::string& source_conninfo, const std::string& target_conninfo, const std::string& catalog_schema,
             const std::vector<std::string>& revoke_from, const std::vector<int>& own_sessions)
    : source_(source_conninfo), target_(target_conninfo), catalog_(catalog_schema) {
  auto source = pg::open_session(source_, "source");
  // Checked again: sessions may have connected since the run's first check.
  auto who = require_fence_holds(source, revoke_from, own_sessions);
  std::string database = who.text(0, 0);
  auto acl = database_acl(source);
  // Written down on the target before anything changes on the source.
  auto target = pg::open_session(target_, "target");
  create_table(target, catalog_);
  id_ = target.exec_params(fmt::format("INSERT INTO {} (source_database, database_name, previous_setting, revoked, "
                                       "previous_acl) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                       table(catalog_)),
                           {who.text(0, 1), database,
                            who.is_null(0, 3) ? std::nullopt : std::optional<std::string>(who.text(0, 3)),
                            pg::text_array_literal(revoke_from), (acl ? nlohmann::json(*acl) : nlohmann::json()).dump()},
                           catalog_)
            .int64(0, 0);
  try {
    auto db = pg::quote_ident(database);
    source.exec("BEGIN");
    source.exec(fmt::format("ALTER DATABASE {} SET default_transaction_read_only = on", db), database);
    for (const auto& role : revoke_from) {
      source.exec(fmt::format("REVOKE CONNECT ON DATABASE {} FROM {}", db, pg::quote_ident(role)), role);
    }
    source.exec("COMMIT");
    // Other sessions could go on writing in transactions they hold open: each is ended, and
    // checked gone. One that connected meanwhile and cannot be ended fails the fence.
    int ended = end_other_sessions(source, own_sessions, database);
    spdlog::info("fenced the source database {}: new sessions are read-only{}; {} other session{} ended", database,
                 revoke_from.empty() ? "" : fmt::format(", CONNECT revoked from {}", fmt::join(revoke_from, ", ")),
                 ended, ended == 1 ? "" : "s");
  } catch (...) {
    pg::rollback_quietly(source);
    try {
      lift();
    } catch (const Error& e) {
      spdlog::error("the source is still fenced: {}; lift it with pgblit unfence --source ... --target ...", e.what());
    }
    throw;
  }
}

Fence::~Fence() {
  try {
    lift();
  } catch (const Error& e) {
    spdlog::error("the source is still fenced: {}; lift it with pgblit unfence --source ... --target ...", e.what());
  }
}

void Fence::lift() {
  if (lifted_ || id_ == 0) return;
  lifted_ = true;
  auto source = lifting_session(source_);
  auto target = pg::open_session(target_, "target");
  for (const auto& r : active(target, catalog_, database_oid(source))) {
    if (r.id == id_) target::lift(source, target, catalog_, r);
  }
}

int unfence(const std::string& source_conninfo, const std::string& target_conninfo, const std::string& catalog_schema) {
  auto source = lifting_session(source_conninfo);
  auto target = pg::open_session(target_conninfo, "target");
  if (target.exec_params("SELECT to_regclass($1) IS NULL", {table(catalog_schema)}).boolean(0, 0)) return 0;
  auto records = active(target, catalog_schema, database_oid(source));
  for (const auto& r : records) lift(source, target, catalog_schema, r);
  return static_cast<int>(records.size());
}

}  // namespace pgblit::target
