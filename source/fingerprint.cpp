// See fingerprint.hpp.
#include "source/fingerprint.hpp"

#include "pg/sql.hpp"

namespace pgblit::source {

nlohmann::json source_state(pg::Connection& source, const plan::Plan& plan) {
  std::vector<std::string> names;
  for (const auto& t : plan.tables) {
    if (!t.from_query()) names.push_back(t.source);  // a query's tables are not named here (docs/mapping.md)
  }
  auto r = source.exec_params(R"(
SELECT s, COALESCE(st.n_tup_ins, 0) || '/' || COALESCE(st.n_tup_upd, 0) || '/' || COALESCE(st.n_tup_del, 0) || '/'
          || COALESCE(pg_relation_filenode(to_regclass(s)), 0)
FROM unnest($1::text[]) s LEFT JOIN pg_stat_all_tables st ON st.relid = to_regclass(s))",
                              {pg::text_array_literal(names)}, "source tables");
  nlohmann::json state = nlohmann::json::object();
  for (int i = 0; i < r.rows(); ++i) state[r.text(i, 0)] = r.text(i, 1);
  return state;
}

std::vector<std::string> changed_tables(const nlohmann::json& before, const nlohmann::json& now) {
  std::vector<std::string> changed;
  for (const auto& [table, value] : before.items()) {
    if (!now.contains(table) || now[table] != value) changed.push_back(table);
  }
  return changed;
}

}  // namespace pgblit::source
