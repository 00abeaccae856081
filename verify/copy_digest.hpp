// Reading a COPY TO STDOUT row by row without keeping it: the target side of verification,
// both sides of `pgblit verify`, and the rows of a range being localized.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "checksums/copy_framer.hpp"
#include "pg/cancellation.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::verify {

checksums::StreamFormat stream_format(plan::CopyFormat format);
// The digester of `table`'s COPY stream in `format`, fed as the stream arrives: the one way
// every writer of a chunk (a lane, a backup, a restore) takes the digest verification compares.
checksums::RowDigester stream_digester(const plan::TableCopy& table, plan::CopyFormat format);

// Runs `copy_out_sql` on `conn` and hands every framed row to `on_row`. `expected_fields`
// (binary; -1: any) guards against a stream of another shape. Leaves the connection idle.
void for_each_copied_row(pg::Connection& conn, const std::string& copy_out_sql, plan::CopyFormat format,
                         int expected_fields, const std::string& object, pg::Cancellation& cancellation,
                         const std::function<void(const checksums::RowView&)>& on_row);

// Runs `copy_out_sql` on `conn` and folds every row into a digest keyed as `table` says.
checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const plan::TableCopy& table, plan::CopyFormat format,
                                       pg::Cancellation& cancellation);

enum class Side { Source, Target };

struct WholeTable {
  const plan::TableCopy* table = nullptr;
  plan::CopyFormat format = plan::CopyFormat::Binary;
};

// The digests of whole tables on one side, in order. Each table is cut into ctid page ranges
// (small tables, partitioned targets and servers before 14 are read in one piece), and up to
// `jobs` sessions of their own to `conninfo` (on the source, inside `snapshot_id`) read the
// ranges of all the tables, largest first, so no session idles while another finishes a
// table. Digests add up: a table's is the sum of its ranges'. `conn` reads the tables' sizes,
// and reads alone when there is a single range.
std::vector<checksums::ChunkDigest> digest_whole_tables(pg::Connection& conn, Side side, const std::string& conninfo,
                                                        const std::string& snapshot_id, int jobs,
                                                        const std::vector<WholeTable>& tables,
                                                        pg::Cancellation& cancellation);

}  // namespace pgblit::verify
