// See rescaled_values.hpp.
#include "verify/rescaled_values.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::verify {

std::string ChangedValues::describe() const {
  return fmt::format("column {} of {}: {} values change as the target's {} stores them, e.g. {}", pg::quote_ident(column),
                     table, count, type, example);
}

namespace {

// Whether the target refuses the value outright (beyond a numeric(p,s)): such a row was set
// aside by --max-rejects, not changed, and the cast would fail the query on the source.
std::string refused_by(const plan::Rescale& r) {
  int precision = 0, scale = 0;
  if (std::sscanf(r.type.c_str(), "numeric(%d,%d)", &precision, &scale) != 2) return "false";
  return fmt::format("({0})::numeric <> 'NaN' AND round(abs(({0})::numeric), {1}) >= 1e{2}", r.expression, scale,
                     precision - scale);
}

}  // namespace

std::vector<ChangedValues> values_changed_by_target(pg::Connection& source, const plan::Plan& plan) {
  std::vector<ChangedValues> out;
  for (const auto& table : plan.tables) {
    for (const auto& r : plan::rescaled(table)) {
      // CASE, not AND: only CASE keeps the cast off a value it would fail on.
      std::string changed = fmt::format("CASE WHEN {2} THEN false ELSE ({0})::{1} IS DISTINCT FROM ({0}) END",
                                        r.expression, r.type, refused_by(r));
      auto result = source.exec(
          plan::source_select_sql(
              table, fmt::format("count(*), min(({0})::text || ' -> ' || (({0})::{1})::text)", r.expression, r.type), changed),
          table.source);
      if (result.int64(0, 0) == 0) continue;
      out.push_back({table.target, r.column, r.type, result.int64(0, 0), result.text(0, 1)});
    }
  }
  return out;
}

}  // namespace pgblit::verify
