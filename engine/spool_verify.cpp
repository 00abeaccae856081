// See spool_verify.hpp.
#include "engine/spool_verify.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "engine/parallel.hpp"
#include "engine/spool_setup.hpp"
#include "partitioner/copy_sql.hpp"
#include "pg/session.hpp"
#include "spool/manifest.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::engine {

SpoolVerifyReport verify_spool(const SpoolVerifyOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  auto manifest = spool::read_manifest(options.spool_dir);
  if (!manifest.complete) {
    throw usage_error(fmt::format("the spool {} is incomplete: there is nothing whole to compare with", options.spool_dir),
                      options.spool_dir, "finish it first (pgblit copy --resume), or use a complete spool");
  }
  std::vector<partitioner::TableCopy> tables;
  for (const auto& t : manifest.tables) {
    tables.push_back(table_copy_of(t));
  }
  SpoolVerifyReport report;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  run_in_parallel(options.jobs, cancellation, [&] {
    auto target = pg::open_session(options.target, "target");
    pg::Cancellation::Watch watch(cancellation, target);
    for (size_t i = next++; i < manifest.chunks.size() && !cancellation.requested(); i = next++) {
      const auto& chunk = manifest.chunks[i];
      const auto& table = tables[chunk.table];
      if (!manifest.tables[chunk.table].ranges_on_target) continue;  // compared whole, below
      auto format = partitioner::format_from_name(chunk.format);
      auto digest = verify::digest_copy_out(target, partitioner::target_copy_out_sql(table, chunk.predicate, format),
                                            table, format, cancellation);
      std::lock_guard lock(mutex);
      ++report.chunks;
      if (!(digest == chunk.digest)) {
        report.differences.push_back(
            {fmt::format("chunk {} of {}{}", chunk.index, table.target,
                         chunk.predicate.empty() ? " (whole table)" : " (" + chunk.predicate + ")"),
             static_cast<int64_t>(chunk.digest.rows), static_cast<int64_t>(digest.rows)});
      }
    }
  });
  // A mapped key's ranges mean nothing on the target: its chunks add up to the whole table.
  for (size_t t = 0; t < tables.size() && !cancellation.requested(); ++t) {
    if (manifest.tables[t].ranges_on_target) continue;
    auto target = pg::open_session(options.target, "target");
    auto format = partitioner::format_from_name(manifest.tables[t].format);
    checksums::ChunkDigest spooled;
    for (const auto& chunk : manifest.chunks) {
      if (chunk.table == t) spooled += chunk.digest;
    }
    auto digest = verify::digest_copy_out(target, partitioner::target_copy_out_sql(tables[t], "", format), tables[t],
                                          format, cancellation);
    ++report.chunks;
    if (!(digest == spooled)) {
      report.differences.push_back({fmt::format("table {} (its key is mapped: compared whole)", tables[t].target),
                                    static_cast<int64_t>(spooled.rows), static_cast<int64_t>(digest.rows)});
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pgblit::engine
