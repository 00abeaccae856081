// See preflight.hpp.
#include "target/preflight.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

struct Problems {
  std::vector<TargetProblem> found;
  void add(std::string object, std::string line, std::string fix) {
    found.push_back({std::move(object), std::move(line), std::move(fix)});
  }
};

void check_writable(pg::Connection& target, Problems& problems) {
  auto r = target.exec("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on'",
                       "target state");
  if (r.boolean(0, 0)) {
    problems.add(target.display(), "the target is a hot standby (in recovery): it cannot be written",
                 "connect --target to the primary server");
  } else if (r.boolean(0, 1)) {
    problems.add(target.display(), "the target database is read-only (default_transaction_read_only = on)",
                 "ALTER DATABASE ... SET default_transaction_read_only = off, or choose a writable target");
  }
}

void check_table_privileges(pg::Connection& target, const plan::Plan& plan, const PreflightOptions& options,
                            Problems& problems) {
  std::set<std::string> names;
  for (const auto& t : plan.tables) names.insert(t.target);
  std::vector<std::string> list(names.begin(), names.end());
  std::vector<std::string> wanted{"INSERT"};
  if (options.truncate) wanted.push_back("TRUNCATE");
  if (options.verify) wanted.push_back("SELECT");
  auto r = target.exec_params(R"(
SELECT t, p FROM unnest($1::text[]) t, unnest($2::text[]) p
WHERE NOT has_table_privilege(t::regclass, p) ORDER BY p, t)",
                              {pg::text_array_literal(list), pg::text_array_literal(wanted)}, "privileges");
  for (int i = 0; i < r.rows(); ++i) {
    std::string table = r.text(i, 0), privilege = r.text(i, 1);
    problems.add(table, fmt::format("the target role may not {} {}", privilege, table),
                 fmt::format("GRANT {} ON {} TO the target role (or run as the table's owner)", privilege, table));
  }
}

void check_catalog_schema(pg::Connection& target, const plan::Plan& plan, const PreflightOptions& options,
                          Problems& problems) {
  std::string quoted = pg::quote_ident(options.catalog_schema);
  for (const auto& t : plan.tables) {
    if (t.target.rfind(quoted + ".", 0) == 0) {
      problems.add(t.target,
                   fmt::format("the run catalog schema {} holds {}, a table this run copies into", quoted, t.target),
                   "give the run catalog a schema of its own with --catalog-schema (default: pgblit)");
      return;
    }
  }
  // Looked up through pg_class, not regclass: a role without USAGE on the schema may not even
  // name its tables, and that is one of the things to report.
  auto r = target.exec_params(R"(
SELECT n.oid IS NULL, EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'runs'),
       CASE WHEN n.oid IS NULL THEN has_database_privilege(current_database(), 'CREATE')
            ELSE has_schema_privilege(n.oid, 'CREATE') AND has_schema_privilege(n.oid, 'USAGE') END,
       (SELECT string_agg(c.relname || ' (' || p || ')', ', ' ORDER BY c.relname, p)
        FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE']) p
        WHERE c.relnamespace = n.oid AND c.relname IN ('runs', 'chunks')
          AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, p)))
FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1)",
                              {options.catalog_schema}, options.catalog_schema);
  bool missing = r.boolean(0, 0), has_catalog = r.boolean(0, 1), may_create = r.boolean(0, 2);
  if (has_catalog) {
    if (!r.is_null(0, 3)) {
      problems.add(options.catalog_schema, fmt::format("the target role may not use the run catalog {}: {}", quoted, r.text(0, 3)),
                   "run as the role that created the catalog, or choose another --catalog-schema");
    }
  } else if (!may_create) {
    problems.add(options.catalog_schema,
                 missing ? fmt::format("the target role may not create the run catalog schema {}", quoted)
                         : fmt::format("the target role may not create the run catalog's tables in {}", quoted),
                 missing ? "GRANT CREATE ON DATABASE to the target role, or create the schema for it "
                           "(CREATE SCHEMA pgblit AUTHORIZATION role) and pass --catalog-schema"
                         : fmt::format("GRANT CREATE, USAGE ON SCHEMA {} to the target role", quoted));
  }
}

// Free connection slots for the connected role in its database on this server.
struct Slots {
  int64_t server = 0;    // max_connections less reserved slots (for non-superusers) less those in use
  int64_t role = -1;     // under the role's CONNECTION LIMIT, -1: none
  int64_t database = -1; // under the database's CONNECTION LIMIT, -1: none
};

Slots free_slots(pg::Connection& conn) {
  auto r = conn.exec(R"(
SELECT current_setting('max_connections')::int
         - CASE WHEN r.rolsuper THEN 0 ELSE current_setting('superuser_reserved_connections')::int END
         - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       CASE WHEN r.rolconnlimit < 0 THEN -1
            ELSE r.rolconnlimit - (SELECT count(*) FROM pg_stat_activity WHERE usename = current_user) END,
       CASE WHEN d.datconnlimit < 0 THEN -1
            ELSE d.datconnlimit - (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) END
FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database())",
                     "connection slots");
  return {r.int64(0, 0), r.int64(0, 1), r.int64(0, 2)};
}

void check_slots(pg::Connection& conn, const char* side, int64_t needed, int64_t server_needed, int jobs,
                 Problems& problems) {
  Slots slots = free_slots(conn);
  auto report = [&](int64_t free, int64_t want, const char* limit) {
    if (free < 0 || free >= want) return;
    problems.add(conn.display(),
                 fmt::format("-j {} needs {} more connections to the {}, but {} allows only {} more", jobs, want, side,
                             limit, std::max<int64_t>(free, 0)),
                 fmt::format("lower -j, or raise {}", limit));
  };
  report(slots.server, server_needed, "max_connections");
  report(slots.role, needed, "the role's CONNECTION LIMIT");
  report(slots.database, needed, "the database's CONNECTION LIMIT");
}

}  // namespace

int target_connections_needed(int jobs, int index_jobs) { return 2 * jobs + 3 + index_jobs; }
int source_connections_needed(int jobs) { return jobs + 1; }

std::vector<TargetProblem> target_problems(pg::Connection& target, pg::Connection& source,
                                           const plan::Plan& plan, const PreflightOptions& options) {
  Problems problems;
  check_writable(target, problems);
  check_table_privileges(target, plan, options, problems);
  check_catalog_schema(target, plan, options, problems);
  // Each side already has one session of the run (the one asking).
  int64_t on_target = target_connections_needed(options.jobs, options.index_jobs) - 1;
  int64_t on_source = source_connections_needed(options.jobs) - 1;
  check_slots(target, "target", on_target, on_target + (options.same_cluster ? on_source : 0), options.jobs, problems);
  if (!options.same_cluster) check_slots(source, "source", on_source, on_source, options.jobs, problems);
  return problems.found;
}

void check_target(pg::Connection& target, pg::Connection& source, const plan::Plan& plan,
                  const PreflightOptions& options) {
  auto problems = target_problems(target, source, plan, options);
  if (problems.empty()) return;
  std::vector<std::string> lines, fixes;
  for (const auto& p : problems) {
    lines.push_back(p.problem);
    if (std::find(fixes.begin(), fixes.end(), p.fix) == fixes.end()) fixes.push_back(p.fix);
  }
  throw usage_error(fmt::format("the target cannot take this run as it is; nothing was written:\n  - {}",
                                fmt::join(lines, "\n  - ")),
                    problems[0].object, fmt::format("{}", fmt::join(fixes, "; ")));
}

}  // namespace pgblit::target
