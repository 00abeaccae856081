// See table_state.hpp.
#include "runs/table_state.hpp"

#include <fmt/format.h>

#include <atomic>
#include <algorithm>

#include "mover/parallel.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {

namespace {

// The row hash of `table` by `method` ("record" or "text"), as an SQL expression over alias t.
std::string row_hash(pg::Connection& conn, const std::string& table, const std::string& method) {
  if (method != "record") return "hashtextextended(t::text, 0)";
  // Names and casts come from the catalog, quoted by the server.
  auto r = conn.exec_params(R"(
SELECT string_agg(CASE WHEN a.atttypid IN (16, 17, 18, 19, 20, 21, 23, 26, 1082, 1083, 1114, 1184, 2950)
                         OR ty.typtype = 'e'
                         OR (a.atttypid IN (25, 1043) AND COALESCE(co.collisdeterministic, true))
                       THEN quote_ident(a.attname) ELSE format('%I::text COLLATE "C"', a.attname) END,
                  ', ' ORDER BY a.attnum)
FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped)",
                            {table}, table);
  if (r.is_null(0, 0)) return "hashtextextended(t::text, 0)";  // no columns
  return fmt::format("hash_record_extended(ROW({}), 0)", r.text(0, 0));
}

// One scan of a table state: the whole table, or a range of its pages.
struct Part {
  size_t table = 0;
  std::string pages;  // "ctid >= ... AND ctid < ...", or "" for the whole table
  int64_t rows = 0;
  std::string sum{};
};

// A large table's scan is split in page ranges (PostgreSQL 14+ reads a TID range directly),
// so `jobs` sessions share it: most targets have one table much larger than the rest, which
// would otherwise be hashed by one session while the others idle. The last range is open, so
// the parts cover every row whatever the table's size.
void add_parts(std::vector<Part>& parts, size_t table, int64_t pages, int jobs) {
  constexpr int64_t kPagesAPart = 1280;  // 10 MB of 8 kB pages: below, one scan is cheap enough
  int64_t count = std::max<int64_t>(1, std::min<int64_t>(jobs, pages / kPagesAPart));
  for (int64_t k = 0; k < count; ++k) {
    std::string lower = k == 0 ? "" : fmt::format("ctid >= '({},0)'::tid", pages * k / count);
    std::string upper = k + 1 == count ? "" : fmt::format("ctid < '({},0)'::tid", pages * (k + 1) / count);
    parts.push_back({.table = table, .pages = lower.empty() || upper.empty() ? lower + upper : lower + " AND " + upper});
  }
}

// The text form of a value depends on these: the same rows must give the same text.
pg::Connection hashing_session(const std::string& target) {
  auto conn = pg::open_session(target, "target");
  conn.exec("SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
            "SET bytea_output = hex");
  return conn;
}

}  // namespace

nlohmann::json table_states(const std::string& target, const std::vector<std::string>& tables, int jobs,
                            pg::Cancellation& cancellation, const nlohmann::json& same_as) {
  auto then = same_as.is_object() ? same_as.value("tables", nlohmann::json::object()) : nlohmann::json::object();
  // Each table's method and hash expression, and its parts, decided on one session first.
  auto conn = hashing_session(target);
  std::vector<std::string> methods, hashes;
  std::vector<Part> parts;
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto& table = tables[i];
    std::string method = conn.server_version() >= 140000 ? "record" : "text";
    if (then.contains(table)) method = then[table].value("method", "text");
    std::string hash = row_hash(conn, table, method);
    if (method == "record" && !then.contains(table)) {
      try {  // a type without an extended hash fails on the first row: the text form serves every type
        conn.exec(fmt::format("SELECT {} FROM {} t LIMIT 1", hash, table), table);
      } catch (const Error&) {
        if (cancellation.requested()) throw;
        method = "text";
        hash = row_hash(conn, table, method);
      }
    }
    methods.push_back(method);
    hashes.push_back(hash);
    int64_t pages = conn.server_version() >= 140000
                        ? conn.exec_params("SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8",
                                           {table}, table).int64(0, 0)
                        : 0;
    add_parts(parts, i, pages, jobs);
  }
  std::atomic<size_t> next{0};
  mover::run_in_parallel(std::min<int>(jobs, static_cast<int>(std::max<size_t>(parts.size(), 1))), cancellation, [&] {
    auto session = hashing_session(target);
    pg::Cancellation::Watch watch(cancellation, session);
    for (size_t i = next++; i < parts.size() && !cancellation.requested(); i = next++) {
      auto& part = parts[i];
      const auto& table = tables[part.table];
      auto r = session.exec(fmt::format("SELECT count(*), COALESCE(sum({}), 0)::text FROM {} t{}", hashes[part.table],
                                        table, part.pages.empty() ? "" : " WHERE " + part.pages),
                            table);
      part.rows = r.int64(0, 0);
      part.sum = r.text(0, 1);
    }
  });
  // A table's parts add up: counts here, the numeric sums (no overflow) by the server.
  nlohmann::json states = nlohmann::json::object();
  for (size_t t = 0; t < tables.size(); ++t) {
    int64_t rows = 0;
    std::vector<std::string> sums;
    for (const auto& part : parts) {
      if (part.table != t) continue;
      rows += part.rows;
      sums.push_back(part.sum);
    }
    std::string sum = sums.size() == 1 ? sums[0]
                                        : conn.exec_params("SELECT sum(s)::text FROM unnest($1::numeric[]) s",
                                                           {pg::text_array_literal(sums)}, tables[t]).text(0, 0);
    states[tables[t]] = {{"rows", rows}, {"digest", sum}, {"method", methods[t]}};
  }
  return {{"tables", states}};
}

nlohmann::json schema_sequences(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(R"(
SELECT format('%I.%I', s.schemaname, s.sequencename), s.last_value::text, s.start_value::text
FROM pg_sequences s WHERE s.schemaname IN (
  SELECT DISTINCT n.nspname FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass
  JOIN pg_namespace n ON n.oid = c.relnamespace) ORDER BY 1)",
                              {pg::text_array_literal(tables)}, "sequences");
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({{"name", r.text(i, 0)},
                   {"last_value", r.is_null(i, 1) ? nlohmann::json() : nlohmann::json(r.text(i, 1))},
                   {"start_value", r.text(i, 2)}});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> changed_table_states(const nlohmann::json& before,
                                                                      const nlohmann::json& now) {
  std::vector<std::pair<std::string, std::string>> changed;
  auto then_tables = before.value("tables", nlohmann::json::object());
  auto now_tables = now.value("tables", nlohmann::json::object());
  for (const auto& [table, was] : then_tables.items()) {
    auto is = now_tables.value(table, nlohmann::json());
    if (is == was) continue;
    int64_t rows_was = was.value("rows", int64_t{0}), rows_now = is.is_object() ? is.value("rows", int64_t{0}) : 0;
    changed.emplace_back(table, rows_was == rows_now
                                    ? fmt::format("{} rows then and now, but rows changed", rows_now)
                                    : fmt::format("{} rows then, {} now", rows_was, rows_now));
  }
  return changed;
}

}  // namespace pgblit::runs
