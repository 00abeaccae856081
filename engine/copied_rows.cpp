// See copied_rows.hpp.
#include "engine/copied_rows.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/copy_pump.hpp"
#include "partitioner/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::engine {
namespace {

// The copied rows' keys of one table into pg_temp.pgblit_copied_keys_N; returns the condition.
std::string load_keys(pg::Connection& source, pg::Connection& target, const partitioner::TableCopy& table, size_t n,
                      BlockPool& pool, pg::Cancellation& cancellation) {
  std::vector<std::string> names, values;  // the key under the target's names; its values over the source row
  auto select = partitioner::select_list(table);
  for (int field : table.key_fields) {
    auto at = static_cast<size_t>(field);
    names.push_back(pg::quote_ident(table.columns[at]));
    values.push_back(select[at]);
  }
  std::string keys = fmt::format("pg_temp.pgblit_copied_keys_{}", n);
  std::string columns = fmt::format("{}", fmt::join(names, ", "));
  target.exec(fmt::format("DROP TABLE IF EXISTS {0}; CREATE TEMP TABLE {0} AS SELECT {1} FROM {2}{3} WITH NO DATA", keys,
                          columns, table.target_partitioned ? "" : "ONLY ", table.target),
              table.target);
  std::string read = fmt::format("COPY ({}) TO STDOUT",
                                 partitioner::source_select_sql(table, fmt::format("{}", fmt::join(values, ", "))));
  auto loaded = pump_copy(source, target, read, fmt::format("COPY {} FROM STDIN", keys), pool, nullptr, cancellation,
                          table.target);
  target.exec("ANALYZE " + keys, table.target);
  spdlog::debug("{}: compared on the {} rows whose keys the copy wrote", table.target, loaded.rows);
  return fmt::format("({}) IN (SELECT {} FROM {})", columns, columns, keys);
}

}  // namespace

void load_copied_keys(verify::Ledger& ledger, pg::Connection& source, pg::Connection& target,
                      pg::Cancellation& cancellation) {
  auto tables = ledger.compared_on_copied_rows();
  if (tables.empty()) return;
  BlockPool pool;
  for (size_t t : tables) {
    const auto& table = ledger.plan().tables[t];
    ledger.set_copied_rows(table.target, load_keys(source, target, table, t, pool, cancellation));
  }
}

}  // namespace pgblit::engine
