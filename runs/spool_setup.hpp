// What copy --spool and backup share: the spool folder checked before the first row moves,
// and the manifest's description of the run (tables with their columns and source types, the
// source, the snapshot, the expiry) and of each chunk's file.
#pragma once

#include <filesystem>
#include <string>

#include "checksums/chunk_digest.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"
#include "spool/manifest.hpp"
#include "spool/spool_lock.hpp"

namespace pgblit::runs {

// The folder, absolute, with its data/ folder created (0700 where pgblit creates them), and
// held for writing (spool_lock.hpp) for as long as `lock` lives; refuses one that holds a spool
// other than `resumable_run`'s (0: none may be resumed). Throws usage errors naming the folder.
struct SpoolFolder {
  std::filesystem::path dir;
  spool::SpoolLock lock;
};
SpoolFolder prepare_spool_folder(const std::string& folder, int64_t resumable_run);

// Refuses (usage error, nothing written) a spool folder whose filesystem lacks room for the
// plan's data at the compression a sample of the largest table shows (read in `snapshot_id`
// on a session of its own), with a tenth to spare.
void require_spool_room(const std::filesystem::path& folder, const std::string& source,
                        const std::string& snapshot_id, const plan::Plan& plan, int level);

struct SpoolStart {
  std::string source;         // connection string (redacted in the manifest)
  std::string snapshot_id;
  int64_t run_id = 0;         // 0: a backup
  int level = kDefaultSpoolLevel;
  double keep_seconds = 0;
};

// A manifest for `plan` read from `source` (the coordinator); an earlier manifest in the
// folder keeps its id and creation time (a resumed run).
spool::Manifest start_manifest(const std::filesystem::path& folder, pg::Connection& source,
                               const plan::Plan& plan, const SpoolStart& start);

// The manifest entry of chunk `c` once its file is on disk (throws if it is missing).
spool::SpoolChunk spool_chunk(const std::filesystem::path& folder, const plan::Plan& plan, size_t c,
                              int64_t rows, int64_t raw_bytes, plan::CopyFormat format,
                              const checksums::ChunkDigest& digest);
// The manifest entry of chunk `c` of `plan`: its file, typed range and what was read.
spool::SpoolChunk planned_chunk(const plan::Plan& plan, size_t c, int64_t rows, int64_t raw_bytes,
                                int64_t compressed_bytes, plan::CopyFormat format,
                                const checksums::ChunkDigest& digest);

}  // namespace pgblit::runs
