// Reading a COPY TO STDOUT row by row without keeping it: the target side of verification,
// both sides of `pgblit verify`, and the rows of a range being localized.
#pragma once

#include <functional>
#include <string>

#include "checksums/copy_framer.hpp"
#include "engine/cancellation.hpp"
#include "partitioner/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::engine {

checksums::StreamFormat stream_format(partitioner::CopyFormat format);

// Runs `copy_out_sql` on `conn` and hands every framed row to `on_row`. `expected_fields`
// (binary; -1: any) guards against a stream of another shape. Leaves the connection idle.
void for_each_copied_row(pg::Connection& conn, const std::string& copy_out_sql, partitioner::CopyFormat format,
                         int expected_fields, const std::string& object, Cancellation& cancellation,
                         const std::function<void(const checksums::RowView&)>& on_row);

// Runs `copy_out_sql` on `conn` and folds every row into a digest keyed as `table` says.
checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                       Cancellation& cancellation);

// The COPY that reads `predicate`'s rows of the target table, in the plan's column order.
std::string target_copy_out_sql(const partitioner::TableCopy& table, const std::string& predicate,
                                partitioner::CopyFormat format);

}  // namespace pgblit::engine
