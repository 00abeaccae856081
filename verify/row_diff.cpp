// See row_diff.hpp.
#include "verify/row_diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "verify/copy_digest.hpp"
#include "plan/copy_sql.hpp"
#include "plan/sql_render.hpp"
#include "plan/chunking.hpp"
#include "pg/sql.hpp"

namespace pgblit::verify {
namespace {

using plan::Chunk;
using plan::CopyFormat;
using plan::TableCopy;

constexpr int64_t kLeafRows = 1000;  // at most this many rows a side: match them directly
constexpr int kMaxDepth = 64;

class Bisection {
 public:
  Bisection(pg::Connection& source, pg::Connection& target, const TableCopy& table, CopyFormat format,
            size_t max_differences, pg::Cancellation& cancellation, std::string target_rows)
      : source_(source), target_(target), table_(table), format_(format), max_(max_differences),
        cancellation_(cancellation), target_rows_(std::move(target_rows)) {
    // The key under the target's names (a mapped source's rows carry them too).
    for (size_t k = 0; k < table.key.size(); ++k) {
      int field = k < table.key_fields.size() ? table.key_fields[k] : -1;
      key_.columns.push_back(field >= 0 ? table.columns[static_cast<size_t>(field)] : table.key[k]);
    }
    key_.types = table.key_types;
    key_.nullable = table.key_nullable;
    for (const auto& k : key_.columns) key_columns_.push_back(pg::quote_ident(k));
  }

  void search(const Chunk& range, int depth) {
    if (differences.size() >= max_ || cancellation_.requested()) return;
    int64_t source_rows = count(source_, range, true);
    int64_t target_rows = count(target_, range, false);
    if (range.null_keys || depth >= kMaxDepth || std::max(source_rows, target_rows) <= kLeafRows) {
      match_rows(range);
      return;
    }
    bool source_larger = source_rows >= target_rows;
    auto median = median_key(source_larger ? source_ : target_, range, source_larger,
                             std::max(source_rows, target_rows) / 2);
    if (median == range.lower) {  // cannot split further (all rows share one key)
      match_rows(range);
      return;
    }
    for (auto half : {sub_range(range.lower, median), sub_range(median, range.upper)}) {
      if (digest(source_, half, true) != digest(target_, half, false)) search(half, depth + 1);
    }
  }

  std::vector<RowDifference> differences;

 private:
  Chunk sub_range(std::vector<std::string> lower, std::vector<std::string> upper) const {
    Chunk c;
    c.lower = std::move(lower);
    c.upper = std::move(upper);
    c.predicate = plan::key_range_predicate(key_, c.lower, c.upper) +
                  (key_.nullable ? " AND NOT " + plan::null_key_predicate(key_) : "");
    return c;
  }

  // A mapped table's source side is its mapped rows, under the target's column names (its key
  // is not mapped, or it would not be compared by chunk).
  std::string relation(bool on_source) const {
    if (on_source && (table_.mapped() || !table_.filter.empty())) {
      std::vector<std::string> select = plan::select_list(table_);
      if (!table_.mapped()) {  // filtered only: the columns themselves (and the key, which may not be copied)
        for (const auto& c : table_.columns) select.push_back(pg::quote_ident(c));
        for (const auto& k : table_.key) {
          if (std::find(table_.columns.begin(), table_.columns.end(), k) == table_.columns.end()) {
            select.push_back(pg::quote_ident(k));
          }
        }
      }
      return fmt::format("({}) s", plan::source_select_sql(table_, fmt::format("{}", fmt::join(select, ", "))));
    }
    if (on_source) return "ONLY " + table_.source;
    std::string target = (table_.target_partitioned ? "" : "ONLY ") + table_.target;
    return target_rows_.empty() ? target : fmt::format("(SELECT * FROM {} WHERE {}) t", target, target_rows_);
  }

  int64_t count(pg::Connection& conn, const Chunk& range, bool on_source) {
    return conn.exec_one(fmt::format("SELECT count(*) FROM {} WHERE {}", relation(on_source), where(range)),
                     table_.source)
        .int64(0, 0);
  }

  static std::string where(const Chunk& range) { return range.predicate.empty() ? "true" : range.predicate; }
  std::vector<std::string> median_key(pg::Connection& conn, const Chunk& range, bool on_source, int64_t offset) {
    std::vector<std::string> as_text;
    for (size_t i = 0; i < key_columns_.size(); ++i) as_text.push_back(key_columns_[i] + "::text AS k" + std::to_string(i));
    auto r = conn.exec_one(fmt::format("SELECT {} FROM {} WHERE {} ORDER BY {} OFFSET {} LIMIT 1", fmt::join(as_text, ", "),
                                   relation(on_source), where(range), fmt::join(key_columns_, ", "), offset),
                       table_.source);
    std::vector<std::string> key;
    for (size_t i = 0; i < key_columns_.size(); ++i) key.push_back(r.text(0, static_cast<int>(i)));
    return key;
  }

  checksums::ChunkDigest digest(pg::Connection& conn, const Chunk& range, bool on_source) {
    std::string sql;
    if (!on_source) {
      sql = plan::target_copy_out_sql(table_, pg::sql_and(range.predicate, target_rows_), format_);
    } else if (!table_.mapped() && table_.filter.empty()) {
      sql = plan::copy_out_sql(table_, range, format_);
    } else {  // the range is over the mapped rows' key (a new key is not the source's)
      std::vector<std::string> columns;
      for (const auto& c : table_.columns) columns.push_back(pg::quote_ident(c));
      sql = fmt::format("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT (FORMAT {})", fmt::join(columns, ", "),
                        relation(true), where(range), plan::format_name(format_));
    }
    return digest_copy_out(conn, sql, table_, format_, cancellation_);
  }

  // A row as read for matching: its bytes' hash, and each copied column's (to name the ones
  // that differ).
  struct KeyedRow {
    uint64_t hash = 0;
    std::vector<uint64_t> fields;
  };

  std::vector<std::string> differing_columns(const KeyedRow& a, const KeyedRow& b) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < table_.columns.size() && i < a.fields.size() && i < b.fields.size(); ++i) {
      if (a.fields[i] != b.fields[i]) out.push_back(table_.columns[i]);
    }
    return out;
  }

  // Reads both sides' rows of a small range with their keys and matches them.
  void match_rows(const Chunk& range) {
    auto source_rows = keyed_rows(source_, range, true);
    auto target_rows = keyed_rows(target_, range, false);
    auto report = [&](RowDifferenceKind kind, const std::string& key, std::vector<std::string> columns = {}) {
      if (differences.size() < max_) differences.push_back({kind, key, std::move(columns)});
    };
    for (auto& [key, rows] : source_rows) {
      auto other = target_rows.find(key);
      std::vector<KeyedRow> theirs = other == target_rows.end() ? std::vector<KeyedRow>{} : other->second;
      for (const auto& row : rows) {
        auto same = std::find_if(theirs.begin(), theirs.end(), [&](const KeyedRow& t) { return t.hash == row.hash; });
        if (same != theirs.end()) {
          theirs.erase(same);
        } else if (!theirs.empty()) {
          report(RowDifferenceKind::Changed, key, differing_columns(row, theirs.front()));
          theirs.erase(theirs.begin());
        } else {
          report(RowDifferenceKind::MissingInTarget, key);
        }
      }
      for (size_t i = 0; i < theirs.size(); ++i) report(RowDifferenceKind::ExtraInTarget, key);
      if (other != target_rows.end()) target_rows.erase(other);
    }
    for (auto& [key, rows] : target_rows) {
      for (size_t i = 0; i < rows.size(); ++i) report(RowDifferenceKind::ExtraInTarget, key);
    }
  }

  std::map<std::string, std::vector<KeyedRow>> keyed_rows(pg::Connection& conn, const Chunk& range, bool on_source) {
    std::vector<std::string> select;
    for (const auto& k : key_columns_) select.push_back(k + "::text");
    for (const auto& c : table_.columns) select.push_back(pg::quote_ident(c));
    std::string sql = fmt::format("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT (FORMAT {})", fmt::join(select, ", "),
                                  relation(on_source), where(range),
                                  format_ == CopyFormat::Binary ? "binary" : "text");
    std::map<std::string, std::vector<KeyedRow>> rows;
    size_t key_count = key_columns_.size();
    for_each_copied_row(conn, sql, format_, static_cast<int>(select.size()), table_.source, cancellation_,
                        [&](const checksums::RowView& row) {
                          std::vector<std::string> values;
                          for (size_t i = 0; i < key_count && i < row.fields.size(); ++i) values.push_back(field_text(row, i));
                          std::string key = values.size() == 1 ? values[0] : "(" + fmt::format("{}", fmt::join(values, ", ")) + ")";
                          KeyedRow keyed{checksums::RowDigester::row_hash(row.bytes), {}};
                          for (size_t i = key_count; i < row.fields.size(); ++i) {
                            auto [offset, size] = row.fields[i];
                            keyed.fields.push_back(checksums::RowDigester::row_hash(row.bytes.substr(offset, size)));
                          }
                          rows[key].push_back(std::move(keyed));
                        });
    return rows;
  }

  std::string field_text(const checksums::RowView& row, size_t i) const {
    auto [offset, size] = row.fields[i];
    if (format_ == CopyFormat::Text) {
      std::string value(row.bytes.substr(offset, size));
      return value == "\\N" ? "NULL" : value;
    }
    if (size == 4 && row.bytes.substr(offset, 4) == std::string_view("\xff\xff\xff\xff", 4)) return "NULL";
    return std::string(row.bytes.substr(offset + 4, size - 4));
  }

  pg::Connection& source_;
  pg::Connection& target_;
  const TableCopy& table_;
  CopyFormat format_;
  size_t max_;
  pg::Cancellation& cancellation_;
  std::string target_rows_;
  plan::TableKey key_;
  std::vector<std::string> key_columns_;
};

}  // namespace

const char* to_string(RowDifferenceKind kind) {
  switch (kind) {
    case RowDifferenceKind::MissingInTarget:
      return "missing in target";
    case RowDifferenceKind::ExtraInTarget:
      return "extra in target";
    case RowDifferenceKind::Changed:
      return "changed";
  }
  return "?";
}

std::vector<RowDifference> find_row_differences(pg::Connection& source, pg::Connection& target,
                                                const TableCopy& table, const Chunk& chunk, CopyFormat format,
                                                size_t max_differences, pg::Cancellation& cancellation,
                                                const std::string& target_rows) {
  Bisection bisection(source, target, table, format, max_differences, cancellation, target_rows);
  bisection.search(chunk, 0);
  return bisection.differences;
}

}  // namespace pgblit::verify
