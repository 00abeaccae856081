// See copy_pump.hpp for the design; the invariant kept throughout is that each connection
// leaves this file with no COPY in progress and no result pending.
#include "engine/copy_pump.hpp"

#include <fmt/format.h>
#include <tbb/concurrent_queue.h>

#include <exception>
#include <optional>
#include <thread>

#include "pg/copy.hpp"

namespace pgblit::engine {
namespace {

using Block = std::vector<char>;

struct Handoff {
  tbb::concurrent_bounded_queue<Block*> empty;
  tbb::concurrent_bounded_queue<Block*> full;  // nullptr: the reader is done
};

// The reader thread's work: every row of the source COPY, digested and packed into blocks.
void read_rows(pg::Connection& source, pg::CopyOut& stream, Handoff& handoff, checksums::RowDigester* digester,
               pg::CommandEnd& end, std::exception_ptr& failure) {
  try {
    Block* block = nullptr;
    handoff.empty.pop(block);
    for (auto row = stream.next(); !row.empty(); row = stream.next()) {
      if (digester && !failure) {
        try {
          digester->consume(row);
        } catch (...) {
          failure = std::current_exception();  // a malformed stream: cancel, keep draining
          source.cancel();
        }
      }
      if (!block->empty() && block->size() + row.size() > kBlockBytes) {
        handoff.full.push(block);
        handoff.empty.pop(block);
        block->clear();
      }
      block->insert(block->end(), row.begin(), row.end());
    }
    if (!block->empty()) {
      handoff.full.push(block);
    } else {
      handoff.empty.push(block);
    }
    end = stream.end();
    if (digester && !failure && !end.error) digester->finish();
  } catch (...) {
    failure = std::current_exception();
  }
  handoff.full.push(nullptr);
}

}  // namespace

BlockPool::BlockPool() {
  for (size_t i = 0; i < kBlocksPerLane; ++i) {
    blocks_.push_back(std::make_unique<Block>());
    blocks_.back()->reserve(kBlockBytes);
  }
}

PumpResult pump_copy(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                     const std::string& copy_in_sql, BlockPool& pool, checksums::RowDigester* digester,
                     pg::Cancellation& cancellation, const std::string& object, const StreamSink* sink) {
  pg::Cancellation::Watch watch_source(cancellation, source);
  pg::Cancellation::Watch watch_target(cancellation, target);
  pg::CopyIn load(target, copy_in_sql, object);    // aborted by its destructor if what follows throws
  pg::CopyOut read(source, copy_out_sql, object);

  Handoff handoff;
  for (auto& block : pool.blocks()) {
    block->clear();
    handoff.empty.push(block.get());
  }
  pg::CommandEnd source_end;
  std::exception_ptr reader_failure;
  std::thread reader(read_rows, std::ref(source), std::ref(read), std::ref(handoff), digester, std::ref(source_end),
                     std::ref(reader_failure));

  PumpResult result;
  std::exception_ptr sink_failure;
  bool write_failed = false;
  bool cancelled = false;
  for (;;) {
    Block* block = nullptr;
    handoff.full.pop(block);
    if (!block) break;
    if (!write_failed && !cancelled) {
      if (cancellation.requested()) {
        cancelled = true;
        source.cancel();
      } else if (!load.put(*block)) {
        write_failed = true;  // the target's error comes with its final result
        source.cancel();
      } else {
        result.bytes += static_cast<int64_t>(block->size());
        if (sink) {
          try {
            (*sink)(*block);
          } catch (...) {
            sink_failure = std::current_exception();
            write_failed = true;
            source.cancel();
          }
        }
      }
    }
    handoff.empty.push(block);  // keep draining so the reader always finishes
  }
  reader.join();

  bool source_failed = reader_failure || source_end.error;
  pg::CommandEnd target_end = load.end(source_failed || cancelled || sink_failure
                                           ? "pgblit: the source side of this COPY failed" : nullptr);
  if (sink_failure) std::rethrow_exception(sink_failure);

  if (cancelled || (cancellation.requested() && (source_failed || target_end.error))) {
    throw cancellation.error(object);
  }
  if (write_failed && target_end.error) throw *target_end.error;
  if (reader_failure) std::rethrow_exception(reader_failure);
  if (source_end.error) throw *source_end.error;
  if (target_end.error) throw *target_end.error;
  if (source_end.rows != target_end.rows) {
    throw Error(ErrorKind::Runtime,
                fmt::format("the source sent {} rows but the target loaded {}", source_end.rows, target_end.rows),
                object, "this should not happen; please report it with the log");
  }
  result.rows = target_end.rows;
  return result;
}

}  // namespace pgblit::engine
