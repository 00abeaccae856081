// See target_claims.hpp.
#include "target/target_claims.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "core/defaults.hpp"
#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

std::string table_list(const std::vector<std::string>& tables, size_t at_most = 5) {
  std::vector<std::string> shown(tables.begin(), tables.begin() + std::min(tables.size(), at_most));
  std::string list = fmt::format("{}", fmt::join(shown, ", "));
  if (tables.size() > at_most) list += fmt::format(" and {} more", tables.size() - at_most);
  return list;
}

std::string catalog_flag(const std::string& catalog) {
  return catalog == kDefaultCatalogSchema ? "" : " --catalog-schema " + catalog;
}

std::optional<std::pair<std::string, std::string>> try_lock_target_tables(pg::Connection& target,
                                                                        const std::vector<std::string>& tables);

}  // namespace

std::vector<std::string> catalogs_on(pg::Connection& target) {
  // A catalog is a schema with pgblit's marker, its runs and its objects, that this role can read.
  auto r = target.exec(R"(
SELECT n.nspname FROM pg_namespace n
WHERE has_schema_privilege(n.oid, 'USAGE')
  AND (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'r'
         AND c.relname IN ('catalog_info', 'runs', 'objects') AND has_table_privilege(c.oid, 'SELECT')) = 3
ORDER BY 1)",
                       "the run catalogs");
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

std::vector<PendingObjects> pending_objects(pg::Connection& target, const std::vector<std::string>& tables) {
  std::vector<PendingObjects> out;
  for (const auto& catalog : catalogs_on(target)) {
    auto r = target.exec_params(
        fmt::format(R"(
SELECT o.run_id, COALESCE(r.options ->> 'kind', 'copy'), o.table_name, o.kind || ' ' || o.name
FROM {0}.objects o JOIN {0}.runs r ON r.id = o.run_id
WHERE o.status = 'dropped'
  AND ($1::text[] IS NULL OR to_regclass(o.table_name) = ANY (
        SELECT to_regclass(t) FROM unnest($1::text[]) t))
ORDER BY o.run_id, o.object)",
                    pg::quote_ident(catalog)),
        {tables.empty() ? std::nullopt : std::optional(pg::text_array_literal(tables))}, catalog + ".objects");
    std::map<int64_t, PendingObjects> by_run;
    for (int i = 0; i < r.rows(); ++i) {
      auto& p = by_run[r.int64(i, 0)];
      p.catalog = catalog;
      p.run = r.int64(i, 0);
      p.kind = r.text(i, 1);
      if (std::find(p.tables.begin(), p.tables.end(), r.text(i, 2)) == p.tables.end()) p.tables.push_back(r.text(i, 2));
      p.names.push_back(r.text(i, 3));
    }
    for (auto& [run, p] : by_run) out.push_back(std::move(p));
  }
  return out;
}

std::string how_to_finish(const PendingObjects& p) {
  std::string finish = p.kind == "restore" ? "run the same pgblit restore command again"
                                           : fmt::format("pgblit copy --resume {}{}", p.run, catalog_flag(p.catalog));
  return fmt::format("finish run {} ({}), or rebuild them and give the run up with pgblit clean {} --restore-objects{}",
                     p.run, finish, p.run, catalog_flag(p.catalog));
}

void refuse_pending_objects_of_other_runs(pg::Connection& target, const std::vector<std::string>& tables,
                                          const std::string& own_catalog, const std::vector<int64_t>& own_runs,
                                          const std::string& command) {
  for (const auto& p : pending_objects(target, tables)) {
    if (p.catalog == own_catalog && std::find(own_runs.begin(), own_runs.end(), p.run) != own_runs.end()) continue;
    throw usage_error(fmt::format("{} of {}'s indexes and constraints were dropped by run {} (catalog {}), which has "
                                  "not rebuilt them: a {} now would leave {} without them for good; nothing written",
                                  p.names.size(), table_list(p.tables), p.run, p.catalog, command,
                                  p.tables.size() == 1 ? "it" : "them"),
                      p.tables[0], how_to_finish(p));
  }
}

void lock_target_tables(pg::Connection& target, const std::vector<std::string>& tables) {
  // A command just killed holds its locks until its server session notices the closed
  // connection: give that a few seconds before calling a table taken.
  for (int attempt = 0;; ++attempt) {
    auto taken = try_lock_target_tables(target, tables);
    if (!taken) return;
    if (attempt == 15) {
      throw usage_error(fmt::format("another pgblit command is writing to {} ({}, whatever its catalog schema): "
                                    "nothing written",
                                    taken->first, taken->second),
                        taken->first, "wait for it to end (pgblit status shows it), or join its run with --join RUN_ID");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

namespace {

// The first table of `tables` another session holds, and who; the others are locked (again).
std::optional<std::pair<std::string, std::string>> try_lock_target_tables(pg::Connection& target,
                                                                        const std::vector<std::string>& tables) {
  // Two int4 keys: pgblit's own class, and the oid shifted into int4's range.
  auto r = target.exec_params(R"(
SELECT t, pg_try_advisory_lock(hashtext('pgblit target table'), (to_regclass(t)::oid::int8 - 2147483648)::int4),
       (SELECT format('pid %s (%s)', a.pid, COALESCE(NULLIF(a.application_name, ''), a.usename))
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.classid = hashtext('pgblit target table')::oid
          AND l.objid = ((to_regclass(t)::oid::int8 - 2147483648)::int4)::oid
          AND l.pid <> pg_backend_pid() LIMIT 1)
FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL)",
                              {pg::text_array_literal(tables)}, "the target tables");
  for (int i = 0; i < r.rows(); ++i) {
    if (!r.boolean(i, 1)) return std::pair(r.text(i, 0), r.is_null(i, 2) ? "a session that just ended" : r.text(i, 2));
  }
  return std::nullopt;
}

}  // namespace

void refuse_resume_over_later_runs(pg::Connection& target, const std::vector<std::string>& tables,
                                   const std::string& catalog, int64_t run, const std::string& started_at) {
  for (const auto& other : catalogs_on(target)) {
    auto r = target.exec_params(
        fmt::format(R"(
SELECT r.id, (SELECT string_agg(DISTINCT t ->> 'target', ', ') FROM jsonb_array_elements(r.plan -> 'tables') t
              WHERE to_regclass(t ->> 'target') = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x))
FROM {0}.runs r
WHERE r.started_at > $2::timestamptz AND NOT ($3 AND r.id = $4::bigint)
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.plan -> 'tables') t
              WHERE to_regclass(t ->> 'target') = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x))
ORDER BY r.started_at LIMIT 1)",
                    pg::quote_ident(other)),
        {pg::text_array_literal(tables), started_at, other == catalog ? "true" : "false", std::to_string(run)},
        other + ".runs");
    if (r.rows() == 0) continue;
    throw usage_error(fmt::format("run {} (catalog {}) wrote to {} after run {} began: resuming {} would load its "
                                  "remaining chunks on top of those rows; nothing written",
                                  r.text(0, 0), other, r.text(0, 1), run, run),
                      r.text(0, 1), "start a new run instead (with --on-existing truncate to load the tables afresh)");
  }
}

}  // namespace pgblit::target
