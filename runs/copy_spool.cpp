// A run's spool (copy --spool): the folder is checked before the first row moves, its
// manifest written as incomplete when the run starts and complete, last, when every chunk's
// file is on disk. The lanes write the chunk files (lane.cpp), each before its chunk commits,
// so a resumed run finds every committed chunk's file in place.
#include <spdlog/spdlog.h>

#include "runs/copy_run.hpp"
#include "runs/spool_setup.hpp"

namespace pgblit::runs {

void CopyRun::prepare_spool() {
  if (options_.spool_dir.empty()) return;
  if (options_.max_rejects > 0) {
    throw usage_error("--spool and --max-rejects do not go together yet: a chunk loaded row by row has no single "
                      "stream to spool", options_.spool_dir, "spool without --max-rejects");
  }
  auto folder = prepare_spool_folder(options_.spool_dir, run_id_);
  options_.spool_dir = folder.dir.string();
  spool_lock_ = std::move(folder.lock);
  require_spool_room(options_.spool_dir, options_.source, run_.snapshot_id, run_.plan, options_.spool_level);
}

void CopyRun::write_spool_manifest(bool complete, const std::vector<mover::ChunkRecord>& records) {
  if (options_.spool_dir.empty() || joining()) return;
  std::filesystem::path dir(options_.spool_dir);
  auto m = start_manifest(dir, *run_.coordinator, run_.plan,
                          {options_.source, run_.snapshot_id, run_id_, options_.spool_level, options_.spool_keep_seconds});
  m.complete = complete;
  for (size_t c = 0; complete && c < run_.plan.chunks.size(); ++c) {
    m.chunks.push_back(spool_chunk(dir, run_.plan, c, records[c].rows, records[c].bytes, records[c].format,
                                   records[c].source_digest));
  }
  spool::write_manifest(dir, m);
  if (complete) spdlog::info("spool: {} chunks in {} (manifest.json)", m.chunks.size(), dir.string());
}

}  // namespace pgblit::runs
