// Cutting one table into chunks of about equal bytes.
//
// A chunk is a half-open key range [lower, upper): the first chunk has no lower bound and
// the last no upper bound, so every row with a non-NULL key falls in exactly one; when the
// key allows NULLs, one more chunk takes the rows with a NULL in the key. Boundaries are
// quantiles of the key's real distribution (never equal-width slices of min..max, which put
// a skewed table into one chunk): read from pg_stats' histogram when the statistics are
// fresh and fine enough, otherwise from a TABLESAMPLE of the table. A table without a key,
// or whose rows lie in the heap in no particular key order (a random uuid key, say: every
// key range would visit most of the heap's pages), is cut into ctid page ranges instead
// (TID range scans, PostgreSQL 14+).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan/catalog.hpp"
#include "plan/keys.hpp"
#include "plan/plan.hpp"

namespace pgblit::plan {

// Below this |correlation| between key order and heap order, key ranges give way to ctid ranges.
inline constexpr double kMinKeyCorrelation = 0.8;

// How many chunks of `chunk_bytes` a table of `bytes` needs (at least 1).
int64_t chunk_count(int64_t bytes, int64_t chunk_bytes);

// SQL conditions for the chunk kinds; bounds are text literals of the key's types.
std::string key_range_predicate(const TableKey& key, const std::vector<std::string>& lower,
                                const std::vector<std::string>& upper);
std::string null_key_predicate(const TableKey& key);
std::string ctid_range_predicate(int64_t first_page, int64_t end_page);  // -1: unbounded

// Picks `count - 1` boundaries from an equi-depth histogram of `bounds` values (its first
// and last are the minimum and maximum).
std::vector<std::string> histogram_boundaries(const std::vector<std::string>& bounds, int64_t count);

// How closely a table's heap order follows its key's order, from a sample of its rows: the
// correlation of their key ranks with their block numbers (1 or -1: in order, 0: scattered).
double physical_correlation(pg::Connection& source, const Relation& table, const TableKey& key);

// Chunks of one table. `keep_whole` (non-empty) is why it must not be split.
struct TableChunks {
  std::string method;  // "whole", "histogram", "sample", "ctid", with a reason in parentheses
  std::vector<Chunk> chunks;
  bool by_ctid = false;  // page ranges: the same predicate selects other rows on another server
};
TableChunks chunk_table(pg::Connection& source, const Relation& table, const TableKey* key, int64_t chunk_bytes,
                        const std::string& keep_whole);

}  // namespace pgblit::plan
