// See unmappable_rows.hpp.
#include "source/unmappable_rows.hpp"

#include <fmt/format.h>

#include <functional>

#include "plan/copy_sql.hpp"
#include "plan/sql_render.hpp"
#include "pg/sql.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::source {
namespace {

// A failure of the row's values (class 22: data exception; P0001: raised), not of the session.
bool fails_the_row(const Error& e) { return e.rejects_row() || e.sqlstate() == "P0001"; }

// Runs `statement` under a savepoint: false when it failed on the data (and was rolled back).
bool runs(pg::Connection& source, const std::function<void()>& statement, std::string* error = nullptr) {
  source.exec("SAVEPOINT pgblit_unmappable");
  try {
    statement();
    source.exec("RELEASE SAVEPOINT pgblit_unmappable");
    return true;
  } catch (const Error& e) {
      if (!fails_the_row(e) || !source.alive()) throw;
    source.exec("ROLLBACK TO SAVEPOINT pgblit_unmappable");
    if (error) *error = e.what();
    return false;
  }
}

}  // namespace

plan::Chunk without_row(plan::Chunk chunk, const std::string& condition) {
  chunk.predicate = pg::sql_and(chunk.predicate, "NOT (" + condition + ")");
  return chunk;
}

std::optional<UnmappableRow> find_unmappable_row(pg::Connection& source, const plan::TableCopy& table,
                                                 const plan::Chunk& chunk, pg::Cancellation& cancellation) {
  if (!table.mapped() || table.key.empty() || table.key_nullable) return std::nullopt;
  std::vector<std::string> key, as_text;
  for (const auto& k : table.key) {
    key.push_back(pg::quote_ident(k));
    // Named apart from the column, so ORDER BY takes the key's own order, not its text's.
    as_text.push_back(fmt::format("{}::text AS pgblit_k{}", key.back(), as_text.size()));
  }
  auto keys = source.exec_one(plan::source_select_sql(table, fmt::format("{}", fmt::join(as_text, ", ")), chunk.predicate) +
                                  fmt::format(" ORDER BY {}", fmt::join(key, ", ")),
                              table.source);
  auto literal = [&](int row) {
    std::vector<std::string> values;
    for (size_t k = 0; k < key.size(); ++k) {
      values.push_back(pg::quote_literal(keys.text(row, static_cast<int>(k))) + "::" + table.key_types[k]);
    }
    return fmt::format("ROW({})", fmt::join(values, ", "));
  };
  auto between = [&](int first, int last) {
    return fmt::format("ROW({0}) >= {1} AND ROW({0}) <= {2}", fmt::join(key, ", "), literal(first), literal(last));
  };
  auto maps = [&](int first, int last) {  // the mapped rows first..last stream without a failure
    return runs(source, [&] {
      auto sql = plan::copy_out_sql(table, plan::Chunk{.predicate = pg::sql_and(chunk.predicate, between(first, last))},
                                           plan::CopyFormat::Text);
          size_t n = 0;
      verify::for_each_copied_row(source, sql, plan::CopyFormat::Text, -1, table.source, cancellation,
                                  [&](const checksums::RowView&) { ++n; });
        });
  };
  int first = 0, last = keys.rows() - 1;
  if (last < 0 || maps(first, last)) return std::nullopt;
  while (first < last && !cancellation.requested()) {  // the first failing row lies in [first, last]
    int middle = first + (last - first) / 2;
    if (maps(first, middle)) {
      first = middle + 1;
    } else {
      last = middle;
    }
  }
  UnmappableRow found;
  std::vector<std::string> values;
  for (size_t k = 0; k < key.size(); ++k) values.push_back(keys.text(first, static_cast<int>(k)));
  found.key = values.size() == 1 ? values[0] : fmt::format("({})", fmt::join(values, ", "));
  found.condition = fmt::format("ROW({}) = {}", fmt::join(key, ", "), literal(first));
  found.row = source.exec_one(fmt::format("SELECT ROW(t.*)::text FROM {} WHERE {}", plan::source_relation(table, "t"), found.condition),
                          table.source).text(0, 0);
  for (size_t i = 0; i < table.columns.size(); ++i) {
    std::string value = plan::column_value_sql(table, i);
    bool ok = runs(source, [&] {
      source.exec_one(fmt::format("SELECT {} FROM {} WHERE {}", value, plan::source_relation(table), found.condition), table.source);
    }, &found.error);
    if (!ok) {
      found.expression = fmt::format("column \"{}\" = {}", table.columns[i], value);
      return found;
    }
  }
  return std::nullopt;  // no expression fails on it alone: not the mapping's doing
}

}  // namespace pgblit::source
