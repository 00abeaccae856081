// `pgblit backup`: a spool made from the source alone, no target. One snapshot exported by a
// coordinator session; `jobs` lanes read chunks in it, each chunk's COPY stream digested as it
// arrives and compressed into its file (durable, under its final name only when whole); the
// schema of the selected tables dumped by pg_dump in the same snapshot beside the data
// (schema.dump), so the spool is a complete restore point for them; the manifest last.
//
// The incomplete manifest lists the planned chunks, so `--resume` (same source) completes an
// interrupted backup: finished chunk files are kept (their digests read back from them), the
// rest are read in a new snapshot, and the log says the backup now spans two snapshots.
#pragma once

#include <string>

#include "core/defaults.hpp"
#include "mapping/mapping.hpp"
#include "plan/selection.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::runs {

struct BackupOptions {
  std::string source;  // connection string
  plan::Selection selection;
  std::string spool_dir;
  int level = kDefaultSpoolLevel;
  double keep_seconds = 0;
  int jobs = default_jobs();
  int64_t chunk_bytes = kDefaultChunkBytes;
  bool resume = false;  // complete the incomplete backup in spool_dir: its chunk files are kept
  const mapping::Mapping* mapping = nullptr;  // --mapping: which rows (skip, where, scope) only
};

struct BackupSummary {
  size_t tables = 0, chunks = 0;
  int64_t rows = 0, raw_bytes = 0, compressed_bytes = 0;
  double seconds = 0;
};

BackupSummary backup(const BackupOptions& options, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
