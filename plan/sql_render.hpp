// The one place the mapping's typed rules (mapping/rules.hpp) become SQL: each target column's
// SELECT entry, a merged table's new keys, and the statements that read a table's copied rows
// from the source (copy, dry run, verify, bisection, key map, copied rows). Names are quoted
// here; the only SQL text that is not pgblit's own is what the user wrote in the mapping (an
// expression, a where), placed as one piece (mapping::sql_fragment_problem).
#pragma once

#include <string>
#include <vector>

#include "mapping/rules.hpp"
#include "plan/plan.hpp"

namespace pgblit::plan {

// What a value map's `else: error` renders as for a value the map lacks: the expression that
// fails the row naming the value (what the copy runs), or NULL (the dry run's checks, which
// leave such rows out, count them under `value map`, and must not fail on them whatever order
// the server evaluates their conditions in).
enum class Unmapped { fails, as_null };

// A rule's value over the source row, before its cast to the target's type.
std::string value_sql(const mapping::ColumnSource& source);
// The value a value map looks up: its column or expression, as text.
std::string value_map_input_sql(const mapping::ValueMap& map);
// Its SELECT entry: the value read as the target's type, named as the target column.
std::string select_entry(const mapping::TargetColumn& column);
// Column `i`'s value over the source row as the target takes it, without its name.
std::string column_value_sql(const TableCopy& table, size_t i);
// The table's SELECT list over the source row, one entry per column in the plan's order.
std::vector<std::string> select_list(const TableCopy& table, Unmapped unmapped = Unmapped::fails);
// The columns whose values the target rounds to its modifier, with their value before the cast.
std::vector<Rescale> rescaled(const TableCopy& table);

// The new key, as SQL, of a row whose old key is the SQL `old`; NULL for a key the run did not
// move (a reference to a row left behind). `reference`: `old` is a reference to the table, not
// its own key (a uuid one then looks the parent row up among the moved rows).
std::string new_key_sql(const mapping::NewKeys& keys, const std::string& old, bool reference = false);

// What a table's rows are read from on the source: ONLY "schema"."table", or the mapping's
// query as a subquery; `alias` names it (required for a query, "" is pgblit_query).
std::string source_relation(const TableCopy& table, const std::string& alias = "");

// " WHERE <predicate> AND <the table's filter>", or "" when there is neither.
std::string source_where(const TableCopy& table, const std::string& predicate = "");
// SELECT <select> FROM ONLY <source> WHERE <predicate> AND <filter>: the rows the run copies.
std::string source_select_sql(const TableCopy& table, const std::string& select, const std::string& predicate = "");
// The same with the table's own SELECT list.
std::string source_rows_sql(const TableCopy& table, const std::string& predicate = "");

}  // namespace pgblit::plan
