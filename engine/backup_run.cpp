// See backup_run.hpp.
#include "engine/backup_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "checksums/copy_framer.hpp"
#include "engine/parallel.hpp"
#include "engine/spool_setup.hpp"
#include "partitioner/copy_sql.hpp"
#include "partitioner/planner.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"
#include "spool/chunk_file.hpp"
#include "target/schema_create.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::engine {
namespace {

constexpr size_t kBatchBytes = 1 << 20;  // rows gathered before each hand-off to zstd

}  // namespace

BackupSummary backup(const BackupOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  auto dir = prepare_spool_folder(options.spool_dir, 0);
  auto coordinator = pg::open_session(options.source, "source");
  pg::Cancellation::Watch watch(cancellation, coordinator);
  pg::Snapshot snapshot(coordinator);
  // No target: the source's own tables say how rows are laid out.
  auto plan = partitioner::build_plan(coordinator, coordinator, {options.selection, false, options.chunk_bytes});
  require_spool_room(dir, options.source, snapshot.id(), plan, options.level);
  auto manifest = start_manifest(dir, coordinator, plan, {options.source, snapshot.id(), 0, options.level, options.keep_seconds});
  spool::write_manifest(dir, manifest);
  target::dump_schema(options.source, options.selection, snapshot.id(), (dir / "schema.dump").string());

  std::vector<std::optional<spool::SpoolChunk>> chunks(plan.chunks.size());
  std::atomic<size_t> next{0};
  std::mutex mutex;
  run_in_parallel(options.jobs, cancellation, [&] {
    auto source = pg::open_session(options.source, "source");
    pg::Cancellation::Watch lane_watch(cancellation, source);
    pg::join_snapshot(source, snapshot.id());
    std::vector<char> batch;
    for (size_t c = next++; c < plan.chunks.size() && !cancellation.requested(); c = next++) {
      const auto& table = plan.tables[plan.chunks[c].table];
      int fields = table.format == partitioner::CopyFormat::Binary ? static_cast<int>(table.columns.size()) : -1;
      checksums::RowDigester digester(verify::stream_format(table.format), table.key_fields, fields);
      spool::ChunkFileWriter file(dir / spool::chunk_file_name(c), options.level, 1);
      pg::CopyOut out(source, partitioner::copy_out_sql(table, plan.chunks[c], table.format), table.source);
      for (auto row = out.next(); !row.empty(); row = out.next()) {
        digester.consume(row);
        batch.insert(batch.end(), row.begin(), row.end());
        if (batch.size() >= kBatchBytes) {
          file.write(batch);
          batch.clear();
        }
      }
      if (auto end = out.end(); end.error) throw *end.error;
      file.write(batch);
      batch.clear();
      digester.finish();
      file.finish();
      auto entry = spool_chunk(dir, plan, c, static_cast<int64_t>(digester.digest().rows), file.raw_bytes(),
                               table.format, digester.digest());
      std::lock_guard lock(mutex);
      chunks[c] = entry;
    }
  });

  BackupSummary summary;
  summary.tables = plan.tables.size();
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

}  // namespace pgblit::engine
