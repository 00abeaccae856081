// A lane: one source session inside the run's snapshot and one target session, copying one
// chunk at a time. Each chunk is loaded in its own target transaction, so it is either
// fully loaded or absent.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "core/defaults.hpp"
#include "pg/cancellation.hpp"
#include "mover/copy_pump.hpp"
#include "mover/rejects.hpp"
#include "plan/plan.hpp"

namespace pgblit::mover {

struct LaneConfig {
  std::string source;       // connection strings
  std::string target;
  std::string snapshot_id;  // the run's exported snapshot
  bool disable_triggers = false;
  // The run catalog (run_id 0: none, as for verify): chunks are claimed and marked done in it.
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run_id = 0;
  std::string worker{};     // host:pid, recorded with each chunk
  double retry_timeout = kDefaultRetryTimeoutSeconds;  // seconds a chunk keeps retrying transient failures
  RejectSink* rejects = nullptr;  // with a budget: rows the target refuses are set aside
  bool verify = true;             // digest the source stream (verification needs it)
  std::string spool_dir{};        // also write each chunk's stream there (spool/chunk_file.hpp); "": no spool
  int spool_level = kDefaultSpoolLevel;
  int spool_workers = 1;          // zstd compression threads per lane
};

struct ChunkOutcome {
  size_t chunk = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  double seconds = 0;
  int lane = 0;                   // the lane that ran it
  bool skipped = false;           // done already, or another worker holds it
  bool switched_to_text = false;  // the target refused the binary form; the table goes as text
  int64_t rejected = 0;           // rows the target refused, set aside (--max-rejects)
  plan::CopyFormat format = plan::CopyFormat::Binary;  // as it travelled
  checksums::ChunkDigest source_digest;                 // of the stream as it was copied
  std::optional<checksums::ChunkDigest> target_digest;  // read back, when verified by chunk
  std::optional<Error> error;
};

class Lane {
 public:
  // `number`: 1, 2, ... among the run's lanes, for progress and reports.
  Lane(const LaneConfig& config, pg::Cancellation& cancellation, int number = 1);
  int number() const { return number_; }

  // Copies one chunk in `format`; if the target refuses the binary form of a value (its
  // type's OIDs or layout differ), copies it again as text and says so in the outcome.
  // With `read_back`, digests the chunk's rows on the target once committed.
  // Transient failures are retried with backoff, reconnecting, for up to retry_timeout.
  ChunkOutcome copy(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                    plan::CopyFormat format, bool read_back);

  // For work that only reads (verification): the lane's sessions, the source in the snapshot.
  pg::Connection& source() { return source_; }
  pg::Connection& target() { return target_; }

 private:
  void copy_once(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                 plan::CopyFormat format, bool read_back, ChunkOutcome& outcome);
  struct ChunkLoad {
    int64_t rows = 0;
    int64_t bytes = 0;
    checksums::ChunkDigest digest;
    plan::CopyFormat format = plan::CopyFormat::Binary;
    std::vector<std::pair<std::string, std::string>> rejected;
  };
  void load_chunk(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                  bool read_back, ChunkOutcome& outcome, const std::function<ChunkLoad()>& load);
  void copy_isolating_rejects(size_t chunk_index, const plan::Chunk& chunk,
                              const plan::TableCopy& table, bool read_back, ChunkOutcome& outcome);
  void copy_with_text_fallback(size_t chunk_index, const plan::Chunk& chunk,
                               const plan::TableCopy& table, plan::CopyFormat format, bool read_back,
                               ChunkOutcome& outcome);
  void connect();
  void recover_after_failure();
  void show_busy(std::optional<size_t> chunk);

  const LaneConfig& config_;
  pg::Cancellation& cancellation_;
  int number_ = 1;
  pg::Connection source_;
  pg::Connection target_;
  BlockPool blocks_;
};

}  // namespace pgblit::mover
