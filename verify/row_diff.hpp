// Finding the rows that differ inside a chunk whose digests disagree.
//
// The chunk's key range is bisected: the median key (on the side with more rows) splits it
// in two, each half's digests are compared on both sides, and only halves that differ are
// followed, so the work grows with log(rows) × differences, not with the table. When a range
// holds few rows, both sides' rows are read with their keys and matched: a key only in the
// source is missing in the target, a key only in the target is extra, a key on both sides
// whose row bytes differ is changed (a duplicated row shows as an extra copy of its key).
#pragma once

#include <string>
#include <vector>

#include "pg/cancellation.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::verify {

enum class RowDifferenceKind { MissingInTarget, ExtraInTarget, Changed };
const char* to_string(RowDifferenceKind kind);

struct RowDifference {
  RowDifferenceKind kind;
  std::string key;  // the key's values as text: "42" or "(7, abc)"
  std::vector<std::string> columns{};  // Changed: the target columns whose values differ
};

// `source` must be inside the run's snapshot. Stops after `max_differences`. A non-empty
// `target_rows` is a condition the target's rows are taken under (the rows a copy wrote into a
// table that held others).
std::vector<RowDifference> find_row_differences(pg::Connection& source, pg::Connection& target,
                                                const plan::TableCopy& table, const plan::Chunk& chunk,
                                                plan::CopyFormat format, size_t max_differences,
                                                pg::Cancellation& cancellation, const std::string& target_rows = "");

}  // namespace pgblit::verify
