// See spool_verify.hpp.
#include "runs/spool_verify.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "mover/copy_pump.hpp"
#include "mover/parallel.hpp"
#include "runs/spool_catalog.hpp"
#include "plan/copy_sql.hpp"
#include "pg/session.hpp"
#include "spool/manifest.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::runs {

SpoolVerifyReport verify_spool(const SpoolVerifyOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  auto manifest = spool::read_manifest(options.spool_dir);
  if (!manifest.complete) {
    throw usage_error(fmt::format("the spool {} is incomplete: there is nothing whole to compare with", options.spool_dir),
                      options.spool_dir, "finish it first (pgblit copy --resume), or use a complete spool");
  }
  if (!manifest.typed_ranges()) {
    throw usage_error(fmt::format("the spool {} has a version {} manifest, whose chunks' rows are SQL text: pgblit "
                                  "runs no SQL from a file",
                                  options.spool_dir, manifest.version),
                      options.spool_dir,
                      "re-create the spool with this pgblit (backup or copy --spool), or verify the target against "
                      "its source (pgblit verify)");
  }
  std::set<size_t> all;
  for (size_t t = 0; t < manifest.tables.size(); ++t) all.insert(t);
  SpoolPlan spooled;
  {
    auto target = pg::open_session(options.target, "target");
    spooled = spool_plan(target, manifest, all, SpoolSide::Target);  // names checked before anything is read
  }
  const auto& plan = spooled.plan;
  SpoolVerifyReport report;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  mover::run_in_parallel(options.jobs, cancellation, [&] {
    auto target = pg::open_session(options.target, "target");
    pg::Cancellation::Watch watch(cancellation, target);
    mover::BlockPool blocks;
    for (size_t c = next++; c < plan.chunks.size() && !cancellation.requested(); c = next++) {
      const auto& chunk = plan.chunks[c];
      if (!spooled.by_range[chunk.table]) continue;  // compared whole, below
      const auto& table = plan.tables[chunk.table];
      const auto& spooled_chunk = manifest.chunks[spooled.chunk_of[c]];
      auto format = plan::format_from_name(spooled_chunk.format);
      auto digester = verify::stream_digester(table, format);
      mover::CopyOutSource read(target, plan::target_copy_out_sql(table, chunk.predicate, format), table.target);
      pump_chunk(read, {}, blocks, &digester, cancellation, table.target);
      auto digest = digester.digest();
      std::lock_guard lock(mutex);
      ++report.chunks;
      if (!(digest == spooled_chunk.digest)) {
        report.differences.push_back(
            {fmt::format("chunk {} of {}{}", spooled_chunk.index, table.target,
                         chunk.predicate.empty() ? " (whole table)" : " (" + chunk.predicate + ")"),
             static_cast<int64_t>(spooled_chunk.digest.rows), static_cast<int64_t>(digest.rows)});
      }
    }
  });
  // Tables whose ranges name other rows on the target (a mapped key; ctid page ranges, which
  // depend on where each row landed): their chunks add up to the whole table.
  for (size_t t = 0; t < plan.tables.size() && !cancellation.requested(); ++t) {
    if (spooled.by_range[t]) continue;
    const auto& table = manifest.tables[spooled.table_of[t]];
    auto target = pg::open_session(options.target, "target");
    auto format = plan::format_from_name(table.format);
    checksums::ChunkDigest sum;
    for (const auto& chunk : manifest.chunks) {
      if (chunk.table == spooled.table_of[t]) sum += chunk.digest;
    }
    auto digest = verify::digest_copy_out(target, plan::target_copy_out_sql(plan.tables[t], "", format),
                                          plan.tables[t], format, cancellation);
    ++report.chunks;
    if (!(digest == sum)) {
      report.differences.push_back({fmt::format("table {} ({}: compared whole)", plan.tables[t].target,
                                                !table.ranges_on_target ? "its key is mapped"
                                                : table.ranges == spool::kCtidRanges
                                                    ? "its chunks are ctid page ranges, which name other rows on "
                                                      "another server"
                                                    : "it has no key"),
                                    static_cast<int64_t>(sum.rows), static_cast<int64_t>(digest.rows)});
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pgblit::runs
