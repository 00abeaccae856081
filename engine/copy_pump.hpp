// The COPY pump: one chunk's rows from a source COPY TO STDOUT into a target COPY FROM STDIN.
//
// A reader thread pulls rows from the source with PQgetCopyData and packs them into blocks;
// the calling thread sends full blocks to the target with PQputCopyData. The two meet at a
// bounded queue of a fixed number of blocks, so a lane never holds more than
// kBlocksPerLane × kBlockBytes however large the table (a single row larger than a block
// travels in a block of its own size). Neither connection is ever left mid-COPY: on any
// failure the target COPY is ended with PQputCopyEnd(error), the source COPY is cancelled,
// and every pending result of both is drained before the error is thrown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "checksums/copy_framer.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::engine {

inline constexpr size_t kBlockBytes = 1 << 20;  // bytes per block handed from reader to writer
inline constexpr size_t kBlocksPerLane = 4;     // blocks in flight per lane

struct PumpResult {
  int64_t rows = 0;   // rows the target loaded (its COPY command tag)
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

// Receives every block of the stream once the target has taken it (the spool's chunk file).
// A sink that throws (a full disk) stops the COPY like any failure, and its error is the one thrown.
using StreamSink = std::function<void(std::span<const char>)>;

// Runs `copy_out_sql` on `source` and `copy_in_sql` on `target` (inside the caller's
// transaction) and streams every row, folding each into `digester` (if any) as it arrives: the
// source digest costs no second read. Throws pgblit::Error with both connections idle.
PumpResult pump_copy(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                     const std::string& copy_in_sql, BlockPool& pool, checksums::RowDigester* digester,
                     pg::Cancellation& cancellation, const std::string& object, const StreamSink* sink = nullptr);

}  // namespace pgblit::engine
