// The one pump: one chunk's stream from a source (chunk_source.hpp: a COPY TO STDOUT in the
// run's snapshot, or a spool's chunk file) into 0..n sinks (chunk_sink.hpp: the target's COPY
// FROM STDIN inside the chunk's claim/mark transaction, a spool's chunk file), digested as it
// passes. copy, backup, restore and `verify --spool` are this pump with different ends.
//
// A reader thread pulls the stream from the source, folds it into the digester and packs it
// into blocks; the calling thread hands full blocks to every sink. The two meet at a bounded
// queue of a fixed number of blocks, so a lane never holds more than kBlocksPerLane ×
// kBlockBytes however large the table (a single row larger than a block travels in a block of
// its own size). Nothing is ever left mid-COPY: on any failure the sinks are ended as
// abandoned (the target's COPY with PQputCopyEnd(error), a spool file removed), the source is
// stopped (its COPY cancelled), and every pending result of both is drained before the error
// is thrown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checksums/copy_framer.hpp"
#include "mover/chunk_sink.hpp"
#include "mover/chunk_source.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::mover {

inline constexpr size_t kBlockBytes = 1 << 20;  // bytes per block handed from reader to writer
inline constexpr size_t kBlocksPerLane = 4;     // blocks in flight per lane

struct PumpResult {
  int64_t rows = 0;   // rows the first counting sink took (the target's COPY tag), else the source sent
  int64_t bytes = 0;  // bytes of COPY stream moved
};

// The blocks one lane reuses from chunk to chunk.
class BlockPool {
 public:
  BlockPool();
  std::vector<std::unique_ptr<std::vector<char>>>& blocks() { return blocks_; }

 private:
  std::vector<std::unique_ptr<std::vector<char>>> blocks_;
};

// Moves `source`'s whole stream into every one of `sinks` (none: only digested), folding it
// into `digester` (if any) as it arrives: the digest costs no second read. Start the sinks
// before the source (a source that fails to start leaves them to their destructors). The
// caller watches the sessions for `cancellation`. Throws pgblit::Error with every end idle.
PumpResult pump_chunk(ChunkSource& source, const std::vector<ChunkSink*>& sinks, BlockPool& pool,
                      checksums::RowDigester* digester, pg::Cancellation& cancellation, const std::string& object);

// The pump from a source session's COPY TO STDOUT into a target session's COPY FROM STDIN
// (inside the caller's transaction), both watched for `cancellation` meanwhile.
PumpResult pump_copy(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                     const std::string& copy_in_sql, BlockPool& pool, checksums::RowDigester* digester,
                     pg::Cancellation& cancellation, const std::string& object);

}  // namespace pgblit::mover
