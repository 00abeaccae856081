// See table_state.hpp.
#include "runs/table_state.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <optional>

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

}  // namespace

nlohmann::json table_states(const std::string& target, const std::vector<std::string>& tables, int jobs,
                            pg::Cancellation& cancellation, const nlohmann::json& same_as) {
  nlohmann::json states = nlohmann::json::object();
  auto then = same_as.is_object() ? same_as.value("tables", nlohmann::json::object()) : nlohmann::json::object();
  std::mutex mutex;
  std::atomic<size_t> next{0};
  mover::run_in_parallel(std::min<int>(jobs, static_cast<int>(std::max<size_t>(tables.size(), 1))), cancellation, [&] {
    auto conn = pg::open_session(target, "target");
    pg::Cancellation::Watch watch(cancellation, conn);
    // The text form of a value depends on these: the same rows must give the same text.
    conn.exec("SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
              "SET bytea_output = hex");
    for (size_t i = next++; i < tables.size() && !cancellation.requested(); i = next++) {
      const auto& table = tables[i];
      std::string method = conn.server_version() >= 140000 ? "record" : "text";
      if (then.contains(table)) method = then[table].value("method", "text");
      auto digest = [&](const std::string& how) {
        return conn.exec(fmt::format("SELECT count(*), COALESCE(sum({}), 0)::text FROM {} t", row_hash(conn, table, how),
                                     table),
                         table);
      };
      std::optional<pg::Result> r;
      try {
        r = digest(method);
      } catch (const Error&) {  // a type without an extended hash: the text form serves every type
        if (method != "record" || then.contains(table) || cancellation.requested()) throw;
        method = "text";
        r = digest(method);
      }
      std::lock_guard lock(mutex);
      states[table] = {{"rows", r->int64(0, 0)}, {"digest", r->text(0, 1)}, {"method", method}};
    }
  });
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
