// Digesting what a COPY TO STDOUT returns, without keeping it: the target side of
// verification, and both sides of `pgblit verify`.
#pragma once

#include <string>

#include "checksums/copy_framer.hpp"
#include "engine/cancellation.hpp"
#include "partitioner/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::engine {

checksums::StreamFormat stream_format(partitioner::CopyFormat format);

// Runs `copy_out_sql` on `conn` and folds every row into a digest keyed as `table` says.
checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                       Cancellation& cancellation);

// The COPY that reads `predicate`'s rows of the target table, in the plan's column order.
std::string target_copy_out_sql(const partitioner::TableCopy& table, const std::string& predicate,
                                partitioner::CopyFormat format);

}  // namespace pgblit::engine
