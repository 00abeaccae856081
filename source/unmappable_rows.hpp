// Source rows a mapping fails on (a cast that does not fit, a division by zero, a value map
// with `else: error`): found in a chunk the source refused to stream, by bisecting the chunk's
// keys on the source. Each probe runs under a SAVEPOINT, so the lane's transaction (and the
// run's snapshot in it) survives each failure. With --max-rejects such a row is set aside
// like a row the target refuses; without, the chunk fails naming the row's key and the
// expression that failed on it.
#pragma once

#include <optional>
#include <string>

#include "plan/plan.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::source {

struct UnmappableRow {
  std::string key;         // the key's values as text: "42" or "(7, abc)"
  std::string condition;   // SQL selecting exactly this source row
  std::string row;         // the source row, as text (for the rejects file)
  std::string expression;  // the mapped column's SQL that failed on it
  std::string error;       // the server's message
};

// The first row of `chunk` (its predicate and the table's filter) that the mapping fails on;
// nullopt when every row maps (the failure was the target's), or when the table has no
// non-null key to bisect on. `source` is in a transaction (the run's snapshot).
std::optional<UnmappableRow> find_unmappable_row(pg::Connection& source, const plan::TableCopy& table,
                                                 const plan::Chunk& chunk, pg::Cancellation& cancellation);

// `chunk` without the rows of `condition`.
plan::Chunk without_row(plan::Chunk chunk, const std::string& condition);

}  // namespace pgblit::source
