// See changed_rows_check.hpp.
#include "runs/changed_rows_check.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <map>

#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {
namespace {

std::string keys_table(const std::string& catalog) { return pg::quote_ident(catalog) + ".follow_changes"; }

// The same text for the same value on both servers, whatever their defaults.
void begin_comparable(pg::Connection& c, const std::string& object) {
  c.exec("BEGIN READ ONLY; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; "
         "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'",
         object);
}

std::string row_of(const std::vector<std::string>& columns) {
  std::string out = "ROW(";
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? ", t." : "t.") + pg::quote_ident(columns[i]);
  return out + ")";
}

// One side of a table: its name, how it is read (ONLY and the mapping's filter on the source).
struct Side {
  pg::Connection* conn;
  std::string table;
  bool only;
  std::string filter;
  std::string from() const {
    return fmt::format("{}{} t", only ? "ONLY " : "", table);
  }
  std::string where(const std::string& more) const { return filter.empty() ? more : "(" + filter + ") AND " + more; }
};

// key text -> row digest, for the keys of `batch` (a JSON array of {column: text} objects).
std::map<std::string, std::string> digests(Side& side, const std::vector<std::string>& columns,
                                           const std::vector<std::string>& key_columns, const std::string& batch) {
  std::vector<std::string> names;
  for (const auto& k : key_columns) names.push_back(k);
  auto types = side.conn->exec_params(
      "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass "
      "AND attname = ANY($2::text[]) AND attnum > 0 AND NOT attisdropped",
      {side.table, pg::text_array_literal(names)}, side.table);
  std::map<std::string, std::string> type_of;
  for (int i = 0; i < types.rows(); ++i) type_of[types.text(i, 0)] = types.text(i, 1);
  std::string definition, picked;
  for (const auto& k : key_columns) {
    if (!type_of.count(k)) {
      throw Error(ErrorKind::Verification, fmt::format("{} has no column {}, the source's key", side.table, k),
                  side.table, "");
    }
    definition += (definition.empty() ? "" : ", ") + pg::quote_ident(k) + " " + type_of[k];
    picked += (picked.empty() ? "k." : ", k.") + pg::quote_ident(k);
  }
  auto key_row = row_of(key_columns);
  std::string match = fmt::format("({}) IN (SELECT {} FROM jsonb_to_recordset($1::jsonb) AS k({}))",
                                  key_row.substr(3), picked, definition);
  auto r = side.conn->exec_params(fmt::format("SELECT {}::text, md5({}::text) FROM {} WHERE {}", key_row,
                                              row_of(columns), side.from(), side.where(match)),
                                  {batch}, side.table);
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = r.text(i, 1);
  return out;
}

// Row count and an order-free digest of every row: the sum of the rows' digests (64 bits of
// md5 each, summed exactly), a multiset's digest that needs no sort and runs in parallel
// workers. Sorting 2 million rows' digests took 22 s a side inside the downtime, the sum 6 s.
std::string whole_digest(Side& side, const std::vector<std::string>& columns) {
  auto r = side.conn->exec_params(
      fmt::format("SELECT count(*) || ' rows, digest ' || COALESCE(sum(('x' || left(md5({}::text), 16))::bit(64)"
                  "::bigint::numeric)::text, '-') FROM {}{}",
                  row_of(columns), side.from(), side.filter.empty() ? "" : " WHERE " + side.filter),
      {}, side.table);
  return r.text(0, 0);
}

// A key as a message shows it: a long one (keys of kilobytes exist) by its start and size.
std::string shown(const std::string& key) {
  constexpr size_t kShown = 60;
  if (key.size() <= kShown + 20) return key;
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return fmt::format("{}... ({} bytes)", key.substr(0, cut), key.size());
}

template <typename F>
auto on_both(Side& source, Side& target, F f) {
  auto there = std::async(std::launch::async, [&] { return f(source); });
  auto here = f(target);
  return std::make_pair(there.get(), here);
}

}  // namespace

// A key is stored once by its digest, not by itself: a btree row holds at most about a third of
// a page (2.7 kB), and a key the source's index holds compressed (say lz4) may be far longer as
// jsonb text (a 10 kB key whose prefix pglz cannot compress).
void create_changed_keys_table(pg::Connection& target, const std::string& catalog) {
  auto table = keys_table(catalog);
  target.exec(fmt::format("CREATE TABLE IF NOT EXISTS {} (run_id bigint NOT NULL, table_name text NOT NULL, "
                          "key jsonb NOT NULL, key_sha256 bytea NOT NULL, UNIQUE (run_id, table_name, key_sha256))",
                          table),
              table);
  // Catalogs made before: unique on the key itself, which refused long keys.
  if (target.exec_params("SELECT count(*) = 0 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'key_sha256'",
                         {table}, table).boolean(0, 0)) {
    // One query string: one transaction.
    target.exec(fmt::format("ALTER TABLE {0} ADD COLUMN key_sha256 bytea; UPDATE {0} SET key_sha256 = {1}; "
                            "ALTER TABLE {0} ALTER COLUMN key_sha256 SET NOT NULL, "
                            "DROP CONSTRAINT IF EXISTS follow_changes_run_id_table_name_key_key, "
                            "ADD UNIQUE (run_id, table_name, key_sha256)",
                            table, "sha256(convert_to(key::text, 'UTF8'))"),
                table);
  }
}

void store_changed_keys(pg::Connection& target, const std::string& catalog, int64_t run,
                        const source::ChangedKeys& keys) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& table : keys.whole) rows.push_back({table, nlohmann::json::object()});
  for (const auto& [table, set] : keys.keys) {
    for (const auto& key : set) rows.push_back({table, key});
  }
  // jsonb's text is canonical (keys ordered, no spacing): one key, one digest.
  target.exec_params(fmt::format("INSERT INTO {} SELECT $1, e->>0, e->1, sha256(convert_to((e->1)::text, 'UTF8')) "
                                 "FROM jsonb_array_elements($2::jsonb) e ON CONFLICT DO NOTHING",
                                 keys_table(catalog)),
                     {std::to_string(run), rows.dump()}, keys_table(catalog));
}

void forget_changed_keys(pg::Connection& target, const std::string& catalog, int64_t run) {
  if (target.exec_params("SELECT to_regclass($1) IS NULL", {keys_table(catalog)}).boolean(0, 0)) return;
  target.exec_params(fmt::format("DELETE FROM {} WHERE run_id = $1", keys_table(catalog)), {std::to_string(run)},
                     keys_table(catalog));
}

ChangedRowsCheck check_changed_rows(pg::Connection& source, pg::Connection& target, const std::string& catalog,
                                    int64_t run, const plan::Plan& plan) {
  ChangedRowsCheck out;
  constexpr size_t kBatch = 5000;  // keys a statement looks up
  for (const auto& t : plan.tables) {
    auto stored = target.exec_params(fmt::format("SELECT key::text FROM {} WHERE run_id = $1 AND table_name = $2",
                                                 keys_table(catalog)),
                                     {std::to_string(run), t.source}, t.source);
    if (stored.rows() == 0) continue;  // nothing changed: the copy's verified rows on both sides
    ++out.tables;
    std::vector<nlohmann::json> keys;
    bool whole = false;
    for (int i = 0; i < stored.rows(); ++i) {
      keys.push_back(nlohmann::json::parse(stored.text(i, 0)));
      whole = whole || keys.back().empty();
    }
    Side src{&source, t.source, true, t.filter};
    Side dst{&target, t.target, false, ""};
    begin_comparable(source, t.source);
    begin_comparable(target, t.target);
    try {
      if (whole) {
        ++out.whole_tables;
        auto [s, d] = on_both(src, dst, [&](Side& side) { return whole_digest(side, t.columns); });
        if (s != d) out.differences.push_back(fmt::format("{}: source {}, target {}", t.target, s, d));
      } else {
        std::vector<std::string> key_columns;
        for (const auto& [column, value] : keys.front().items()) key_columns.push_back(column);
        size_t reported = 0;
        for (size_t at = 0; at < keys.size(); at += kBatch) {
          nlohmann::json batch = nlohmann::json::array();
          for (size_t i = at; i < std::min(keys.size(), at + kBatch); ++i) batch.push_back(keys[i]);
          auto text = batch.dump();
          auto [s, d] = on_both(src, dst, [&](Side& side) { return digests(side, t.columns, key_columns, text); });
          out.rows += static_cast<int64_t>(batch.size());
          auto report = [&](const std::string& key, const std::string& what) {
            if (reported++ < 5) out.differences.push_back(fmt::format("{}: key {}: {}", t.target, shown(key), what));
          };
          for (const auto& [key, digest] : s) {
            auto there = d.find(key);
            if (there == d.end()) report(key, "on the source, missing on the target");
            else if (there->second != digest) report(key, "differs");
          }
          for (const auto& [key, digest] : d) {
            if (!s.count(key)) report(key, "deleted on the source, still on the target");
          }
        }
        if (reported > 5) out.differences.push_back(fmt::format("{}: {} more keys differ", t.target, reported - 5));
      }
      source.exec("COMMIT", t.source);
      target.exec("COMMIT", t.target);
    } catch (...) {
      pg::rollback_quietly(source);
      pg::rollback_quietly(target);
      throw;
    }
  }
  return out;
}

}  // namespace pgblit::runs
