// See rescaled_values.hpp.
#include "verify/rescaled_values.hpp"

#include <fmt/format.h>

#include "pg/sql.hpp"

namespace pgblit::verify {

std::string ChangedValues::describe() const {
  return fmt::format("column {} of {}: {} values change as the target's {} stores them, e.g. {}", pg::quote_ident(column),
                     table, count, type, example);
}

std::vector<ChangedValues> values_changed_by_target(pg::Connection& source, const partitioner::Plan& plan) {
  std::vector<ChangedValues> out;
  for (const auto& table : plan.tables) {
    for (const auto& r : table.rescaled) {
      std::string changed = fmt::format("({0})::{1} IS DISTINCT FROM ({0})", r.expression, r.type);
      auto result = source.exec(
          fmt::format("SELECT count(*), min(({0})::text || ' -> ' || (({0})::{1})::text) FROM ONLY {2} WHERE {3}",
                      r.expression, r.type, table.source, pg::sql_and(table.filter, changed)),
          table.source);
      if (result.int64(0, 0) == 0) continue;
      out.push_back({table.target, r.column, r.type, result.int64(0, 0), result.text(0, 1)});
    }
  }
  return out;
}

}  // namespace pgblit::verify
