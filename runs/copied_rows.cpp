// See copied_rows.hpp.
#include "runs/copied_rows.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "mover/copy_pump.hpp"
#include "pg/copy.hpp"
#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {
namespace {

// The copied rows' keys of one table into pg_temp.pgblit_copied_keys_N; returns the condition.
// The key fields (still in COPY's text form) of the rows the copy set aside for `table`: each
// rejects file line is the row as COPY text, in the table's column order.
std::string rejected_keys(const std::filesystem::path& dir, const plan::TableCopy& table) {
  std::string name;
  for (char c : table.target) name += (c == '"' || c == '/') ? '_' : c;
  std::string out;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(name + ".chunk-", 0) != 0) continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("-- ", 0) == 0) continue;
      std::vector<std::string> fields;
      for (size_t start = 0;;) {
        size_t tab = line.find('\t', start);
        fields.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      std::vector<std::string> key;
      for (int field : table.key_fields) {
        if (field < 0 || static_cast<size_t>(field) >= fields.size()) return "";  // not a row of this shape
        key.push_back(fields[static_cast<size_t>(field)]);
      }
      out += fmt::format("{}\n", fmt::join(key, "\t"));
    }
  }
  return out;
}

std::string load_keys(pg::Connection& source, pg::Connection& target, const plan::TableCopy& table, size_t n,
                      mover::BlockPool& pool, pg::Cancellation& cancellation, const std::filesystem::path& rejects_dir) {
  std::vector<std::string> names, values;  // the key under the target's names; its values over the source row
  auto select = plan::select_list(table);
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
                                 plan::source_select_sql(table, fmt::format("{}", fmt::join(values, ", "))));
  auto loaded = mover::pump_copy(source, target, read, fmt::format("COPY {} FROM STDIN", keys), pool, nullptr, cancellation,
                          table.target);
  if (auto rejected = rejected_keys(rejects_dir, table); !rejected.empty()) {
    // As text: a key the target refused need not be a value of its type.
    std::vector<std::string> text_columns, same;
    for (size_t i = 0; i < names.size(); ++i) {
      text_columns.push_back(fmt::format("k{} text", i));
      same.push_back(fmt::format("{}.{}::text IS NOT DISTINCT FROM r.k{}", keys, names[i], i));
    }
    target.exec(fmt::format("DROP TABLE IF EXISTS pg_temp.pgblit_rejected_keys; "
                            "CREATE TEMP TABLE pgblit_rejected_keys ({})", fmt::join(text_columns, ", ")),
                table.target);
    pg::CopyIn in(target, "COPY pg_temp.pgblit_rejected_keys FROM STDIN", table.target);
    in.put(rejected);
    if (auto end = in.end(); end.error) throw *end.error;
    target.exec(fmt::format("DELETE FROM {} USING pg_temp.pgblit_rejected_keys r WHERE {}", keys,
                            fmt::join(same, " AND ")),
                table.target);
  }
  target.exec("ANALYZE " + keys, table.target);
  spdlog::debug("{}: compared on the {} rows whose keys the copy wrote", table.target, loaded.rows);
  return fmt::format("({}) IN (SELECT {} FROM {})", columns, columns, keys);
}

}  // namespace

void load_copied_keys(verify::Ledger& ledger, pg::Connection& source, pg::Connection& target,
                      pg::Cancellation& cancellation, const std::filesystem::path& rejects_dir) {
  auto tables = ledger.compared_on_copied_rows();
  if (tables.empty()) return;
  mover::BlockPool pool;
  for (size_t t : tables) {
    const auto& table = ledger.plan().tables[t];
    ledger.set_copied_rows(table.target, load_keys(source, target, table, t, pool, cancellation, rejects_dir));
  }
}

}  // namespace pgblit::runs
