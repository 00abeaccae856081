// See chunking.hpp.
#include "plan/chunking.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

std::string key_tuple(const TableKey& key) {
  std::vector<std::string> cols;
  for (const auto& c : key.columns) cols.push_back(pg::quote_ident(c));
  return cols.size() == 1 ? cols[0] : "(" + fmt::format("{}", fmt::join(cols, ", ")) + ")";
}

std::string bound_tuple(const TableKey& key, const std::vector<std::string>& values) {
  std::vector<std::string> literals;
  for (size_t i = 0; i < values.size(); ++i) literals.push_back(pg::quote_literal(values[i]) + "::" + key.types[i]);
  return literals.size() == 1 ? literals[0] : "(" + fmt::format("{}", fmt::join(literals, ", ")) + ")";
}

// Keeps boundaries strictly increasing as the server sorted them (drops repeats).
std::vector<std::vector<std::string>> distinct(std::vector<std::vector<std::string>> bounds) {
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

// Boundaries from pg_stats, or none when the statistics are stale, missing or too coarse.
std::vector<std::vector<std::string>> from_histogram(pg::Connection& source, const Relation& table,
                                                     const TableKey& key, int64_t count) {
  if (key.columns.size() != 1 || !table.stats_fresh) return {};
  auto r = source.exec_params(
      "SELECT histogram_bounds::text::text[] FROM pg_stats "
      "WHERE schemaname = $1 AND tablename = $2 AND attname = $3 AND NOT inherited",
      {table.schema, table.name, key.columns[0]}, table.qualified());
  if (r.rows() == 0 || r.is_null(0, 0)) return {};
  auto bounds = r.text_array(0, 0);
  if (static_cast<int64_t>(bounds.size()) - 1 < 2 * count) return {};  // under two buckets a chunk: too coarse
  std::vector<std::vector<std::string>> out;
  for (auto& b : histogram_boundaries(bounds, count)) out.push_back({std::move(b)});
  return distinct(std::move(out));
}

// Boundaries from a sample: the first key of each of `count` equal tiles of sampled keys.
// Rows on one page tend to have neighbouring keys, so the sample must come from many pages
// (about 100 a chunk, TABLESAMPLE SYSTEM) for tiles to be even; of those pages' rows a few
// hundred a chunk are enough to sort (random() thins them).
std::vector<std::vector<std::string>> from_sample(pg::Connection& source, const Relation& table, const TableKey& key,
                                                  int64_t count) {
  double pages = static_cast<double>(std::max<int64_t>(table.heap_pages, 1));
  double rows = table.estimated_rows > 0 ? static_cast<double>(table.estimated_rows) : table.bytes / 100.0;
  double percent = std::min(100.0, 100.0 * 100.0 * static_cast<double>(count) / pages);
  double sampled_rows = std::max(1.0, rows * percent / 100.0);
  double keep = std::min(1.0, 500.0 * static_cast<double>(count) / sampled_rows);
  std::vector<std::string> cols, as_text, not_null;
  for (const auto& c : key.columns) {
    cols.push_back(pg::quote_ident(c));
    // Aliased: an output column named like the key would make ORDER BY sort by its text.
    as_text.push_back(pg::quote_ident(c) + "::text AS bound_" + std::to_string(as_text.size()));
    not_null.push_back(pg::quote_ident(c) + " IS NOT NULL");
  }
  std::string sql = fmt::format(
      "SELECT DISTINCT ON (tile) {0} FROM (SELECT {1}, ntile({2}) OVER (ORDER BY {1}) AS tile "
      "FROM ONLY {3} TABLESAMPLE SYSTEM ({4}) REPEATABLE (0) WHERE {5} AND random() < {6}) s "
      "WHERE tile > 1 ORDER BY tile, {1}",
      fmt::join(as_text, ", "), fmt::join(cols, ", "), count, table.qualified(), percent, fmt::join(not_null, " AND "),
      keep);
  auto r = source.exec(sql, table.qualified());
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < r.rows(); ++i) {
    std::vector<std::string> bound;
    for (size_t c = 0; c < key.columns.size(); ++c) bound.push_back(r.text(i, static_cast<int>(c)));
    out.push_back(std::move(bound));
  }
  return distinct(std::move(out));
}

TableChunks key_chunks(const TableKey& key, const std::vector<std::vector<std::string>>& bounds, int64_t bytes,
                       std::string method) {
  TableChunks out{std::move(method), {}};
  int64_t per_chunk = bytes / static_cast<int64_t>(bounds.size() + 1);
  std::string not_null = key.nullable ? " AND NOT " + null_key_predicate(key) : "";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    Chunk c;
    if (i > 0) c.lower = bounds[i - 1];
    if (i < bounds.size()) c.upper = bounds[i];
    c.predicate = key_range_predicate(key, c.lower, c.upper) + not_null;
    c.estimated_bytes = per_chunk;
    out.chunks.push_back(std::move(c));
  }
  if (key.nullable) {
    Chunk nulls;
    nulls.null_keys = true;
    nulls.predicate = null_key_predicate(key);
    out.chunks.push_back(std::move(nulls));
  }
  return out;
}

TableChunks whole(const Relation& table, std::string method) {
  Chunk chunk;
  chunk.estimated_bytes = table.bytes;
  return {std::move(method), {std::move(chunk)}};
}

TableChunks ctid_chunks(const Relation& table, int64_t count, std::string method) {
  int64_t pages = std::max<int64_t>(1, table.heap_pages);
  count = std::min(count, pages);
  TableChunks out{std::move(method), {}, true};
  for (int64_t i = 0; i < count; ++i) {
    int64_t first = i == 0 ? -1 : pages * i / count;
    int64_t end = i == count - 1 ? -1 : pages * (i + 1) / count;
    Chunk c;
    if (first >= 0) c.lower = {std::to_string(first)};
    if (end >= 0) c.upper = {std::to_string(end)};
    c.predicate = ctid_range_predicate(first, end);
    c.estimated_bytes = table.bytes / count;
    out.chunks.push_back(std::move(c));
  }
  return out;
}

}  // namespace

double physical_correlation(pg::Connection& source, const Relation& table, const TableKey& key) {
  // About 200 pages, thinned to about 2000 rows: enough to tell ordered from scattered.
  double pages = static_cast<double>(std::max<int64_t>(table.heap_pages, 1));
  double rows = table.estimated_rows > 0 ? static_cast<double>(table.estimated_rows) : table.bytes / 100.0;
  double percent = std::min(100.0, 100.0 * 200.0 / pages);
  double keep = std::min(1.0, 2000.0 / std::max(1.0, rows * percent / 100.0));
  std::vector<std::string> cols;
  for (const auto& c : key.columns) cols.push_back(pg::quote_ident(c));
  auto r = source.exec(fmt::format("SELECT corr(r, b) FROM (SELECT row_number() OVER (ORDER BY {}) AS r, "
                                   "(ctid::text::point)[0] AS b FROM ONLY {} TABLESAMPLE SYSTEM ({}) REPEATABLE (0) "
                                   "WHERE random() < {}) s",
                                   fmt::join(cols, ", "), table.qualified(), percent, keep),
                       table.qualified());
  return r.is_null(0, 0) ? 1.0 : std::stod(r.text(0, 0));  // too few rows or pages to tell: keep the key
}

int64_t chunk_count(int64_t bytes, int64_t chunk_bytes) {
  return std::max<int64_t>(1, (bytes + chunk_bytes - 1) / std::max<int64_t>(chunk_bytes, 1));
}

std::string key_range_predicate(const TableKey& key, const std::vector<std::string>& lower,
                                const std::vector<std::string>& upper) {
  std::vector<std::string> parts;
  if (!lower.empty()) parts.push_back(key_tuple(key) + " >= " + bound_tuple(key, lower));
  if (!upper.empty()) parts.push_back(key_tuple(key) + " < " + bound_tuple(key, upper));
  return parts.empty() ? "true" : fmt::format("{}", fmt::join(parts, " AND "));
}

std::string null_key_predicate(const TableKey& key) {
  std::vector<std::string> parts;
  for (const auto& c : key.columns) parts.push_back(pg::quote_ident(c) + " IS NULL");
  return "(" + fmt::format("{}", fmt::join(parts, " OR ")) + ")";
}

std::string ctid_range_predicate(int64_t first_page, int64_t end_page) {
  std::vector<std::string> parts;
  if (first_page >= 0) parts.push_back(fmt::format("ctid >= '({},0)'::tid", first_page));
  if (end_page >= 0) parts.push_back(fmt::format("ctid < '({},0)'::tid", end_page));
  return parts.empty() ? "true" : fmt::format("{}", fmt::join(parts, " AND "));
}

std::vector<std::string> histogram_boundaries(const std::vector<std::string>& bounds, int64_t count) {
  std::vector<std::string> out;
  if (bounds.size() < 2) return out;
  double buckets = static_cast<double>(bounds.size() - 1);
  for (int64_t i = 1; i < count; ++i) {
    auto at = static_cast<size_t>(std::llround(buckets * static_cast<double>(i) / static_cast<double>(count)));
    out.push_back(bounds[at]);
  }
  return out;
}

TableChunks chunk_table(pg::Connection& source, const Relation& table, const TableKey* key, int64_t chunk_bytes,
                        const std::string& keep_whole) {
  int64_t count = chunk_count(table.bytes, chunk_bytes);
  if (count == 1 || !keep_whole.empty()) {
    return whole(table, keep_whole.empty() ? "whole" : "whole (" + keep_whole + ")");
  }
  if (key && source.server_version() >= 140000) {
    double correlation = physical_correlation(source, table, *key);
    if (std::abs(correlation) < kMinKeyCorrelation) {
      return ctid_chunks(table, count, fmt::format("ctid (rows not in key order: correlation {:.2f})", correlation));
    }
  }
  if (key) {
    auto bounds = from_histogram(source, table, *key, count);
    if (!bounds.empty()) return key_chunks(*key, bounds, table.bytes, "histogram");
    bounds = from_sample(source, table, *key, count);
    if (!bounds.empty()) return key_chunks(*key, bounds, table.bytes, "sample");
    return whole(table, "whole (the sample found no keys)");
  }
  if (source.server_version() < 140000) {
    return whole(table, "whole (no key, and TID range scans need PostgreSQL 14)");
  }
  return ctid_chunks(table, count, "ctid");
}

}  // namespace pgblit::plan
