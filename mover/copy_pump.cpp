// See copy_pump.hpp for the design; the invariant kept throughout is that each end leaves
// this file with no COPY in progress and no result pending.
#include "mover/copy_pump.hpp"

#include <fmt/format.h>
#include <tbb/concurrent_queue.h>

#include <exception>
#include <optional>
#include <thread>

namespace pgblit::mover {
namespace {

using Block = std::vector<char>;

struct Handoff {
  tbb::concurrent_bounded_queue<Block*> empty;
  tbb::concurrent_bounded_queue<Block*> full;  // nullptr: the reader is done
};

// The reader thread's work: the source's whole stream, digested and packed into blocks.
void read_stream(ChunkSource& source, Handoff& handoff, checksums::RowDigester* digester, pg::CommandEnd& end,
                 std::exception_ptr& failure) {
  try {
    Block* block = nullptr;
    handoff.empty.pop(block);
    for (auto piece = source.next(); !piece.empty(); piece = source.next()) {
      if (digester && !failure) {
        try {
          digester->consume(piece);
        } catch (...) {
          failure = std::current_exception();  // a malformed stream: stop, keep draining
          source.stop();
        }
      }
      if (!block->empty() && block->size() + piece.size() > kBlockBytes) {
        handoff.full.push(block);
        handoff.empty.pop(block);
        block->clear();
      }
      block->insert(block->end(), piece.begin(), piece.end());
    }
    if (!block->empty()) {
      handoff.full.push(block);
    } else {
      handoff.empty.push(block);
    }
    end = source.end();
    if (digester && !failure && !end.error) digester->finish();
  } catch (...) {
    if (!failure) failure = std::current_exception();
  }
  handoff.full.push(nullptr);
}

void rethrow_explained(const ChunkSource& source, const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const Error& e) {
    throw source.explain(e);
  }
}

}  // namespace

BlockPool::BlockPool() {
  for (size_t i = 0; i < kBlocksPerLane; ++i) {
    blocks_.push_back(std::make_unique<Block>());
    blocks_.back()->reserve(kBlockBytes);
  }
}

PumpResult pump_chunk(ChunkSource& source, const std::vector<ChunkSink*>& sinks, BlockPool& pool,
                      checksums::RowDigester* digester, pg::Cancellation& cancellation, const std::string& object) {
  Handoff handoff;
  for (auto& block : pool.blocks()) {
    block->clear();
    handoff.empty.push(block.get());
  }
  pg::CommandEnd source_end;
  std::exception_ptr reader_failure;
  std::thread reader(read_stream, std::ref(source), std::ref(handoff), digester, std::ref(source_end),
                     std::ref(reader_failure));

  PumpResult result;
  std::exception_ptr sink_failure;         // a sink that threw (a full disk)
  std::optional<size_t> refused;           // the sink whose put() failed (its error comes with its end)
  bool cancelled = false;
  for (;;) {
    Block* block = nullptr;
    handoff.full.pop(block);
    if (!block) break;
    if (!refused && !sink_failure && !cancelled) {
      if (cancellation.requested()) {
        cancelled = true;
        source.stop();
      } else {
        for (size_t i = 0; i < sinks.size() && !refused && !sink_failure; ++i) {
          try {
            if (!sinks[i]->put(*block)) refused = i;
          } catch (...) {
            sink_failure = std::current_exception();
          }
        }
        if (refused || sink_failure) {
          source.stop();
        } else {
          result.bytes += static_cast<int64_t>(block->size());
        }
      }
    }
    handoff.empty.push(block);  // keep draining so the reader always finishes
  }
  reader.join();

  // Every sink ended: as whole only while all before it ended well, so a spool file is never
  // made durable for a chunk the target refused.
  bool source_failed = reader_failure || source_end.error;
  bool abandon = source_failed || cancelled || sink_failure || refused;
  std::vector<pg::CommandEnd> ends(sinks.size());
  for (size_t i = 0; i < sinks.size(); ++i) {
    bool whole = !abandon || (refused == i && !source_failed && !cancelled && !sink_failure);
    try {
      ends[i] = sinks[i]->end(whole ? nullptr : "pgblit: the source side of this COPY failed");
    } catch (...) {
      if (!sink_failure) sink_failure = std::current_exception();
    }
    if (ends[i].error) abandon = true;
  }
  if (sink_failure) std::rethrow_exception(sink_failure);

  auto sink_error = [&]() -> const std::optional<Error>& {
    for (const auto& end : ends) {
      if (end.error) return end.error;
    }
    return source_end.error;  // none: the caller checks it first
  };
  bool any_sink_error = false;
  for (const auto& end : ends) any_sink_error |= end.error.has_value();
  if (cancelled || (cancellation.requested() && (source_failed || any_sink_error))) throw cancellation.error(object);
  if (refused && ends[*refused].error) throw *ends[*refused].error;
  if (reader_failure) rethrow_explained(source, reader_failure);
  if (source_end.error) throw *source_end.error;
  if (any_sink_error) throw *sink_error();
  result.rows = source_end.rows;
  for (const auto& end : ends) {
    if (end.rows < 0) continue;
    if (source_end.rows >= 0 && end.rows != source_end.rows) {
      throw Error(ErrorKind::Runtime,
                  fmt::format("the source sent {} rows but the target loaded {}", source_end.rows, end.rows), object,
                  "this should not happen; please report it with the log");
    }
    result.rows = end.rows;
    break;
  }
  return result;
}

PumpResult pump_copy(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                     const std::string& copy_in_sql, BlockPool& pool, checksums::RowDigester* digester,
                     pg::Cancellation& cancellation, const std::string& object) {
  pg::Cancellation::Watch watch_source(cancellation, source);
  pg::Cancellation::Watch watch_target(cancellation, target);
  TargetCopyIn load(target, copy_in_sql, object);  // aborted by its destructor if what follows throws
  CopyOutSource read(source, copy_out_sql, object);
  return pump_chunk(read, {&load}, pool, digester, cancellation, object);
}

}  // namespace pgblit::mover
