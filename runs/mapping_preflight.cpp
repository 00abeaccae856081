// See mapping_preflight.hpp.
#include "runs/mapping_preflight.hpp"

#include <fmt/format.h>

#include <optional>

#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {
namespace {

// A failure of a row's values (a data exception, a raised error), which --max-rejects may set
// aside, rather than of the statement on any row.
bool fails_a_row(const Error& e) { return e.rejects_row() || e.sqlstate() == "P0001"; }

// Runs `sql` under a savepoint: its result, or the error it failed with (rolled back).
std::optional<Error> failure_of(pg::Connection& source, const std::string& sql, const std::string& object,
                                std::optional<pg::Result>* result = nullptr) {
  source.exec("SAVEPOINT pgblit_mapping_preflight");
  try {
    auto r = source.exec_one(sql, object);
    source.exec("RELEASE SAVEPOINT pgblit_mapping_preflight");
    if (result) result->emplace(std::move(r));
    return std::nullopt;
  } catch (const Error& e) {
    if (!source.alive()) throw;
    source.exec("ROLLBACK TO SAVEPOINT pgblit_mapping_preflight");
    return e;
  }
}

void require_rows_selected(pg::Connection& source, const plan::Plan& plan, const mapping::Mapping& mapping) {
  size_t filtered = 0;
  for (const auto& t : plan.tables) {
    if (t.filter.empty()) continue;
    ++filtered;
    if (source.exec_one(fmt::format("SELECT EXISTS ({})", plan::source_select_sql(t, "1")), t.source).boolean(0, 0)) {
      return;
    }
  }
  if (filtered == 0) return;
  throw usage_error(fmt::format("{}: the mapping's filters select no row of any table, so the copy would copy nothing "
                                "of them (and the tables without a filter whole); nothing was written",
                                mapping.file),
                    mapping.file,
                    "check the scope's value (its type and spelling) and the tables' where; pgblit plan --mapping "
                    "shows each table's filter");
}

void require_mapped_values(pg::Connection& source, const plan::TableCopy& t, const mapping::TableMapping& m) {
  for (const auto& rule : t.column_rules) {
    const auto* map = std::get_if<mapping::ValueMap>(&rule.source);
    if (!map || map->otherwise != "error") continue;
    const auto& column = rule.name;
    auto cm = m.columns.find(column);
    std::string at = cm == m.columns.end() ? m.location : cm->second.where;
    std::vector<std::string> covered;
    for (const auto& [from, to] : map->values) covered.push_back(from);
    std::optional<pg::Result> found;
    std::string value = map->expression.empty() ? pg::quote_ident(map->column) : "(" + map->expression + ")";
    auto sql = fmt::format("SELECT v FROM ({}) c WHERE v IS NOT NULL AND NOT (v = ANY ({}::text[])) LIMIT 1",
                           plan::source_select_sql(t, fmt::format("({})::text AS v", value)),
                           pg::quote_literal(pg::text_array_literal(covered)));
    if (failure_of(source, sql, t.source, &found) || !found || found->rows() == 0) continue;
    throw usage_error(fmt::format("{}: the value map of column \"{}\" of {} has no value for '{}', which rows of {} "
                                  "hold, and says else: error: the copy would fail on them; nothing was written",
                                  at, column, t.target, found->text(0, 0), t.source),
                      t.target + "." + pg::quote_ident(column),
                      "add the value to the map, choose else: keep or null, or set such rows aside with --max-rejects N "
                      "(pgblit plan --mapping counts them)");
  }
}

}  // namespace

void check_mapping_before_writing(pg::Connection& source, const plan::Plan& plan,
                                  const mapping::Mapping& mapping, int64_t max_rejects) {
  require_rows_selected(source, plan, mapping);
  for (const auto& t : plan.tables) {
    if (!t.mapped()) continue;
    // One row through every expression: a function the read-only source refuses, or a privilege
    // it lacks, fails whatever the row; a failure of the row's own values is for run time.
    auto sql = plan::source_rows_sql(t) + " LIMIT 1";
    if (auto e = failure_of(source, sql, t.source); e && !fails_a_row(*e)) {
      throw usage_error(fmt::format("the mapping of {} fails on the source: {}; nothing was written", t.source, e->what()),
                        t.source,
                        "a mapping's expressions run in a read-only transaction on the source: use functions that "
                        "only read, and grant the source role what they use");
    }
    if (const auto* m = plan::entry_of(mapping, t); m && max_rejects == 0) require_mapped_values(source, t, *m);
  }
}

}  // namespace pgblit::runs
