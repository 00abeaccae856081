// See follow_checks.hpp.
#include "source/follow_checks.hpp"

#include <fmt/format.h>

#include "source/follow_source.hpp"

namespace pgblit::source {

std::vector<FollowFinding> follow_checks(pg::Connection& source, pg::Connection& target, const plan::Plan& plan) {
  std::vector<FollowFinding> out;
  auto s = source.exec(R"(
SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_replication_slots)::int, current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_stat_replication)::int,
       (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user),
       has_database_privilege(current_database(), 'CREATE'))");
  if (s.text(0, 0) != "logical") {
    out.push_back({true, fmt::format("the source's wal_level is {}, not logical", s.text(0, 0)),
                   "ALTER SYSTEM SET wal_level = logical and restart the source (managed services: the logical "
                   "replication parameter, e.g. rds.logical_replication = 1)"});
  }
  // Two slots: the subscription's, and the one the cutover reads the changed rows' keys from.
  if (s.int64(0, 2) + 2 > s.int64(0, 1)) {
    out.push_back({true, fmt::format("fewer than two free replication slots on the source ({} of {} in use)", s.int64(0, 2), s.int64(0, 1)),
                   "raise max_replication_slots (restart), or drop an unused slot"});
  }
  if (s.int64(0, 4) >= s.int64(0, 3)) {
    out.push_back({true, fmt::format("no free WAL sender on the source ({} of {} in use)", s.int64(0, 4), s.int64(0, 3)),
                   "raise max_wal_senders (restart)"});
  }
  if (!s.boolean(0, 5)) {
    out.push_back({true, "the source role has no REPLICATION attribute: it cannot create the slot",
                   "ALTER ROLE ... REPLICATION (managed services: grant their replication role, e.g. rds_replication)"});
  }
  if (!s.boolean(0, 6)) {
    out.push_back({true, "the source role may not create a publication (CREATE on the database)",
                   "GRANT CREATE ON DATABASE ... TO the role, and own the tables (or be superuser)"});
  }
  // Tables whose UPDATE and DELETE would fail once published.
  std::vector<std::string> tables;
  for (const auto& t : plan.tables) {
    if (auto why = reshaping(t); !why.empty()) {
      out.push_back({true, fmt::format("{}: the mapping reshapes its rows ({}); native replication applies rows by "
                                       "table and column name", t.source, why),
                     "move without --follow, or map only with where filters"});
    }
    tables.push_back(t.source);
  }
  std::string list;
  for (const auto& t : tables) list += (list.empty() ? "" : ",") + t;
  auto r = source.exec_params(R"(
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY (SELECT unnest(string_to_array($1, ','))::regclass)
  AND (c.relreplident = 'n'
       OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
       OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
ORDER BY 1)",
                              {list});
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({true, fmt::format("{} has no primary key or replica identity: once published, the application's "
                                     "UPDATE and DELETE on it fail", r.text(i, 0)),
                   fmt::format("add a primary key, or ALTER TABLE {} REPLICA IDENTITY FULL", r.text(i, 0))});
  }
  auto t = target.exec(R"(
SELECT rolsuper OR EXISTS (SELECT 1 FROM pg_roles p WHERE p.rolname = 'pg_create_subscription'
                          AND pg_has_role(current_user, p.oid, 'USAGE'))
FROM pg_roles WHERE rolname = current_user)");
  if (t.rows() == 0 || !t.boolean(0, 0)) {
    out.push_back({true, "the target role may not create a subscription",
                   "connect to the target as a superuser, or (PostgreSQL 16+) GRANT pg_create_subscription and CREATE "
                   "on the database"});
  }
  out.push_back({false, "DDL on the source during the run is not replicated (ALTER TABLE, new tables)",
                 "freeze schema changes until the cutover; apply any to the target first, then the source"});
  return out;
}

}  // namespace pgblit::source
