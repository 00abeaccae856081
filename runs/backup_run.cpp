// See backup_run.hpp.
#include "runs/backup_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include "checksums/copy_framer.hpp"
#include "mover/copy_pump.hpp"
#include "mover/parallel.hpp"
#include "start/run_setup.hpp"
#include "runs/spool_catalog.hpp"
#include "runs/spool_setup.hpp"
#include "core/test_moment.hpp"
#include "plan/copy_sql.hpp"
#include "plan/planner.hpp"
#include "pg/session.hpp"
#include "spool/chunk_file.hpp"
#include "target/schema_create.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::runs {

// A finished chunk file of an interrupted backup, read back for its manifest entry.
spool::SpoolChunk entry_from_file(const std::filesystem::path& dir, const plan::Plan& plan, size_t c) {
  const auto& table = plan.tables[plan.chunks[c].table];
  auto digester = verify::stream_digester(table, table.format);
  spool::ChunkFileReader file(dir / spool::chunk_file_name(c));
  int64_t raw = 0;
  for (auto piece = file.next(); !piece.empty(); piece = file.next()) {
    digester.consume(piece);
    raw += static_cast<int64_t>(piece.size());
  }
  digester.finish();
  return spool_chunk(dir, plan, c, static_cast<int64_t>(digester.digest().rows), raw, table.format, digester.digest());
}

BackupSummary backup(const BackupOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  auto coordinator = pg::open_session(options.source, "source");
  pg::Cancellation::Watch watch(cancellation, coordinator);
  std::filesystem::path dir;
  plan::Plan plan;
  spool::Manifest manifest;
  std::vector<std::optional<spool::SpoolChunk>> chunks;
  spool::SpoolLock lock;  // held while the spool is written: prune leaves it alone
  pg::Snapshot snapshot(coordinator);
  if (options.resume) {
    dir = std::filesystem::absolute(options.spool_dir);
    if (std::filesystem::is_directory(dir)) lock = spool::SpoolLock::for_writing(dir);
    manifest = spool::read_manifest(dir);
    if (manifest.complete || manifest.run_id != 0 || manifest.chunks.empty()) {
      throw usage_error(fmt::format("{} holds no interrupted backup to resume", dir.string()), dir.string(),
                        manifest.run_id ? fmt::format("a copy's spool is completed by pgblit copy --resume {}", manifest.run_id)
                                        : "start a new backup in a new folder");
    }
    if (start::identify(coordinator).cluster != manifest.source_system_identifier) {
      throw usage_error("this is not the source the backup began on", dir.string(), "give the backup's own --source");
    }
    if (!manifest.typed_ranges()) {
      throw usage_error(fmt::format("{} was begun by an older pgblit (manifest version {}): its chunks' ranges cannot "
                                    "be read back",
                                    dir.string(), manifest.version),
                        dir.string(), "start a new backup in a new folder");
    }
    std::set<size_t> all;
    for (size_t t = 0; t < manifest.tables.size(); ++t) all.insert(t);
    // The manifest's names and ranges, checked against the source's catalog before any is read.
    plan = spool_plan(coordinator, manifest, all, SpoolSide::Source).plan;
    chunks.resize(plan.chunks.size());
    for (size_t c = 0; c < plan.chunks.size(); ++c) {
      if (std::filesystem::exists(dir / spool::chunk_file_name(c))) chunks[c] = entry_from_file(dir, plan, c);
    }
    spdlog::warn("resuming the backup in {}: {} chunk files kept; the rest are read in a new snapshot, so the backup "
                 "spans two moments of the source",
                 dir.string(), std::count_if(chunks.begin(), chunks.end(), [](const auto& c) { return c.has_value(); }));
  } else {
    auto folder = prepare_spool_folder(options.spool_dir, 0);
    dir = folder.dir;
    lock = std::move(folder.lock);
    // No target: the source's own tables say how rows are laid out.
    if (options.mapping) options.mapping->require_row_selection_only("pgblit backup");
    plan = plan::build_plan(coordinator, coordinator,
                                   {options.selection, false, options.chunk_bytes, false, options.mapping});
    for (const auto& t : plan.tables) {
      if (!t.filter.empty()) spdlog::info("{}: the rows where {} ({})", t.source, t.filter, t.filter_reason);
    }
    require_spool_room(dir, options.source, snapshot.id(), plan, options.level);
    manifest = start_manifest(dir, coordinator, plan, {options.source, snapshot.id(), 0, options.level, options.keep_seconds});
    for (size_t c = 0; c < plan.chunks.size(); ++c) {  // the plan, so --resume can finish it
      manifest.chunks.push_back(planned_chunk(plan, c, -1, -1, -1, plan.tables[plan.chunks[c].table].format, {}));
    }
    spool::write_manifest(dir, manifest);
    target::dump_schema(options.source, options.selection, snapshot.id(), (dir / "schema.dump").string());
    std::error_code ignored;  // pg_dump creates it by the umask: the schema is the owner's alone, as the data is
    std::filesystem::permissions(dir / "schema.dump", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 ignored);
    chunks.resize(plan.chunks.size());
  }

  std::atomic<size_t> next{0};
  std::mutex mutex;
  mover::run_in_parallel(options.jobs, cancellation, [&] {
    auto source = pg::open_session(options.source, "source");
    pg::Cancellation::Watch lane_watch(cancellation, source);
    pg::join_snapshot(source, snapshot.id());
    mover::BlockPool blocks;
    for (size_t c = next++; c < plan.chunks.size() && !cancellation.requested(); c = next++) {
      if (chunks[c]) continue;  // kept from before a resume
      const auto& table = plan.tables[plan.chunks[c].table];
      auto digester = verify::stream_digester(table, table.format);
      mover::SpoolFileSink file(dir / spool::chunk_file_name(c), options.level, 1);
      mover::CopyOutSource read(source, plan::copy_out_sql(table, plan.chunks[c], table.format), table.source);
      pump_chunk(read, {&file}, blocks, &digester, cancellation, table.source);
      auto entry = spool_chunk(dir, plan, c, static_cast<int64_t>(digester.digest().rows), file.raw_bytes(),
                               table.format, digester.digest());
      {
        std::lock_guard lock(mutex);
        chunks[c] = entry;
      }
      core::chunk_committed(cancellation);
    }
  });

  BackupSummary summary;
  summary.tables = plan.tables.size();
  manifest.chunks.clear();  // the planned entries give way to the finished ones
  for (auto& c : chunks) {
    summary.rows += c->rows;
    summary.raw_bytes += c->raw_bytes;
    summary.compressed_bytes += c->compressed_bytes;
    manifest.chunks.push_back(std::move(*c));
  }
  summary.chunks = manifest.chunks.size();
  manifest.complete = true;
  spool::write_manifest(dir, manifest);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace pgblit::runs
