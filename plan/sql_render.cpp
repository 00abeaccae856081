// See sql_render.hpp.
#include "plan/sql_render.hpp"

#include <fmt/format.h>

#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

using namespace mapping;

std::string cast(const std::string& value, const std::string& type) {
  return type.empty() ? value : fmt::format("({})::{}", value, type);
}

std::string int8_array(const std::vector<KeyRun>& runs, int64_t KeyRun::*field) {
  std::string out = "'{";
  for (size_t i = 0; i < runs.size(); ++i) out += (i ? "," : "") + std::to_string(runs[i].*field);
  return out + "}'::int8[]";
}

struct Render {
  std::string operator()(const PassThrough& r) const { return pg::quote_ident(r.column); }
  std::string operator()(const Cast& r) const {
    std::string out = pg::quote_ident(r.column);
    // The literals take the column's type, so '42' matches an integer or a uuid alike.
    for (const auto& m : r.remaps) {
      out = fmt::format("CASE WHEN {0} = {1} THEN {2} ELSE {0} END", out, pg::quote_literal(m.from), pg::quote_literal(m.to));
    }
    return out;
  }
  std::string operator()(const Expression& r) const { return "(" + r.sql + ")"; }
  std::string operator()(const ValueMap& r) const {
    std::string value = value_map_input_sql(r);
    std::string sql = "CASE " + value;
    for (const auto& [in, out] : r.values) sql += " WHEN " + pg::quote_literal(in) + " THEN " + pg::quote_literal(out);
    // An unmapped value under `else: error` fails the row with the value and the column named.
    std::string otherwise = r.otherwise == "keep"                                    ? value
                            : r.otherwise == "null" || unmapped == Unmapped::as_null ? "NULL"
                                                                                     : "(('pgblit mapping: no value for ' || " +
                                                                                           pg::quote_literal(r.target_column) +
                                                                                           " || ' maps ' || " + value + "))::int::text";
    return sql + " ELSE " + otherwise + " END";
  }
  std::string operator()(const NewKey& r) const { return new_key_sql(keys, pg::quote_ident(r.column)); }
  std::string operator()(const Reference& r) const { return new_key_sql(r.parent, pg::quote_ident(r.column), true); }
  std::string operator()(const ReferenceArray& r) const {
    std::string column = pg::quote_ident(r.column);
    return fmt::format("CASE WHEN {0} IS NULL THEN NULL ELSE ARRAY(SELECT {1} FROM unnest({0}) WITH ORDINALITY "
                       "AS pgblit_u(pgblit_e, pgblit_n) ORDER BY pgblit_n) END",
                       column, new_key_sql(r.parent, "pgblit_u.pgblit_e", true));
  }
  const NewKeys& keys;
  Unmapped unmapped = Unmapped::fails;
};

// NewKey renders through the table's own rule, which the column rule does not carry.
const NewKeys kNoKeys{};

}  // namespace

std::string new_key_sql(const NewKeys& keys, const std::string& old, bool reference) {
  if (keys.kind == "uuid") {
    auto key = [&](const std::string& value) {
      return fmt::format("md5({} || ({})::text)::uuid", pg::quote_literal(keys.salt), value);
    };
    if (!reference) return key(old);
    // The salt's md5 would give any uuid a new key: a reference to a row the run does not move
    // is NULL, as an integer one is, found among the moved rows (in the run's snapshot). The old
    // value is read outside the lookup, where its name means the referencing row's column.
    return fmt::format("(SELECT CASE WHEN EXISTS (SELECT 1 FROM ONLY {} pgblit_parent WHERE pgblit_parent.{} = "
                       "pgblit_old.v{}) THEN {} END FROM (SELECT ({}) AS v) pgblit_old)",
                       keys.source_table, pg::quote_ident(keys.source_column),
                       keys.filter.empty() ? "" : " AND (" + keys.filter + ")", key("pgblit_old.v"), old);
  }
  if (keys.runs.empty()) return "NULL::int8";
  if (keys.runs.size() == 1) {
    const auto& r = keys.runs[0];
    return fmt::format("CASE WHEN ({0})::int8 >= {1} AND ({0})::int8 < {2} THEN ({0})::int8 - {1} + {3} END", old,
                       r.old_first, r.old_first + r.count, r.new_first);
  }
  // One run per gap in the source's keys: a binary search (width_bucket) finds the old key's run.
  return fmt::format(
      "(SELECT CASE WHEN pgblit_r.i > 0 AND pgblit_r.v < pgblit_r.o[pgblit_r.i] + pgblit_r.c[pgblit_r.i] "
      "THEN pgblit_r.v - pgblit_r.o[pgblit_r.i] + pgblit_r.n[pgblit_r.i] END FROM (SELECT width_bucket(pgblit_k.v, "
      "pgblit_k.o) AS i, pgblit_k.* FROM (SELECT ({0})::int8 AS v, {1} AS o, {2} AS c, {3} AS n) pgblit_k) pgblit_r)",
      old, int8_array(keys.runs, &KeyRun::old_first), int8_array(keys.runs, &KeyRun::count),
      int8_array(keys.runs, &KeyRun::new_first));
}

std::string value_sql(const ColumnSource& source) { return std::visit(Render{kNoKeys}, source); }

std::string value_map_input_sql(const ValueMap& map) {
  return "(" + (map.expression.empty() ? pg::quote_ident(map.column) : "(" + map.expression + ")") + ")::text";
}

namespace {
std::string value_in(const TableCopy& table, const ColumnSource& source, Unmapped unmapped = Unmapped::fails) {
  return std::visit(Render{table.new_keys, unmapped}, source);
}

// The value as the target's char(n) stores it: padded with spaces to n characters, trailing
// spaces beyond n dropped (char(n) holds them insignificant and cuts them too). A value that
// does not fit even so goes as it is, longer than n, for the target to refuse; read back, it
// differs from whatever the target holds.
std::string padded(const std::string& value, int n) {
  std::string text = fmt::format("({})::text", value);
  return fmt::format("rpad({0}, greatest({1}, char_length(rtrim({0}))))::pg_catalog.bpchar", text, n);
}

// The column's value over the source row as the target stores it, without its name.
std::string stored_value(const TableCopy& table, const TargetColumn& column, Unmapped unmapped = Unmapped::fails) {
  std::string value = cast(value_in(table, column.source, unmapped), read_type(column.source));
  return column.padded_to > 0 ? padded(value, column.padded_to) : value;
}

std::string entry_in(const TableCopy& table, const TargetColumn& column, Unmapped unmapped = Unmapped::fails) {
  const auto* same = std::get_if<PassThrough>(&column.source);
  if (same && column.padded_to == 0) {
    return same->column == column.name ? pg::quote_ident(column.name)
                                       : fmt::format("{} AS {}", pg::quote_ident(same->column), pg::quote_ident(column.name));
  }
  return fmt::format("{} AS {}", stored_value(table, column, unmapped), pg::quote_ident(column.name));
}
}  // namespace

std::string column_value_sql(const TableCopy& table, size_t i) {
  if (table.column_rules.empty()) return pg::quote_ident(table.columns[i]);
  return stored_value(table, table.column_rules[i]);
}

std::string select_entry(const TargetColumn& column) { return entry_in(TableCopy{}, column); }

std::vector<std::string> select_list(const TableCopy& table, Unmapped unmapped) {
  std::vector<std::string> out;
  if (table.column_rules.empty()) {
    for (const auto& c : table.columns) out.push_back(pg::quote_ident(c));
    return out;
  }
  for (const auto& c : table.column_rules) out.push_back(entry_in(table, c, unmapped));
  return out;
}

std::vector<Rescale> rescaled(const TableCopy& table) {
  std::vector<Rescale> out;
  for (const auto& c : table.column_rules) {
    if (c.rescaled) out.push_back({c.name, value_in(table, c.source), read_type(c.source)});
  }
  return out;
}

std::string source_where(const TableCopy& table, const std::string& predicate) {
  std::string condition = pg::sql_and(predicate, table.filter);
  return condition.empty() ? "" : " WHERE " + condition;
}

std::string source_relation(const TableCopy& table, const std::string& alias) {
  if (table.from_query()) return fmt::format("({}) {}", table.query, alias.empty() ? "pgblit_query" : alias);
  return alias.empty() ? "ONLY " + table.source : fmt::format("ONLY {} {}", table.source, alias);
}

std::string source_select_sql(const TableCopy& table, const std::string& select, const std::string& predicate) {
  return fmt::format("SELECT {} FROM {}{}", select, source_relation(table), source_where(table, predicate));
}

std::string source_rows_sql(const TableCopy& table, const std::string& predicate) {
  return source_select_sql(table, fmt::format("{}", fmt::join(select_list(table), ", ")), predicate);
}

}  // namespace pgblit::plan
