// See spool_setup.hpp.
#include "runs/spool_setup.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "core/private_files.hpp"
#include "core/units.hpp"
#include "start/run_setup.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "spool/chunk_file.hpp"
#include "plan/copy_sql.hpp"
#include "pg/conninfo.hpp"

namespace pgblit::runs {
namespace {

constexpr size_t kSampleBytes = 8 << 20;  // of the streams, in all, to measure what a spool takes
constexpr size_t kSampledTables = 8;      // the largest tables, each sampled from its largest chunk

std::string utc_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

SpoolFolder prepare_spool_folder(const std::string& folder, int64_t resumable_run) {
  std::error_code error;
  auto dir = std::filesystem::absolute(folder, error);
  if (!error) create_private_directories(dir / "data", error);  // chunk files are table data
  if (error) {
    throw usage_error(fmt::format("cannot create the spool folder {}: {}", folder, error.message()), folder,
                      "choose a writable folder with --spool; nothing was written");
  }
  auto lock = spool::SpoolLock::for_writing(dir);
  auto existing = spool::try_read_manifest(dir);
  if (existing && (existing->complete || resumable_run == 0 || existing->run_id != resumable_run)) {
    throw usage_error(fmt::format("{} already holds a {} spool{}", dir.string(),
                                  existing->complete ? "complete" : "incomplete",
                                  existing->run_id ? fmt::format(" (run {})", existing->run_id) : ""),
                      dir.string(), "give each run a spool folder of its own (or remove the old one: pgblit spool prune)");
  }
  return {dir, std::move(lock)};
}

namespace {

// Spool bytes per byte on disk for one table, from a sample of its largest chunk's stream:
// the plan counts bytes on disk (heap + TOAST: tuple headers, long values compressed already),
// the spool holds the stream, zstd-compressed.
double spool_bytes_per_disk_byte(const std::string& source, const std::string& snapshot_id,
                                 const plan::Plan& plan, size_t t, size_t budget, int level) {
  const auto& table = plan.tables[t];
  std::optional<size_t> largest;
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    if (plan.chunks[c].table == t && (!largest || plan.chunks[c].estimated_bytes > plan.chunks[*largest].estimated_bytes)) {
      largest = c;
    }
  }
  if (!largest) return 0;
  std::vector<char> sample;
  int64_t rows = 0;
  {
    auto session = pg::open_session(source, "source");
    pg::join_snapshot(session, snapshot_id);
    pg::CopyOut out(session, plan::copy_out_sql(table, plan.chunks[*largest], table.format), table.source);
    for (auto row = out.next(); !row.empty() && sample.size() < budget; row = out.next(), ++rows) {
      sample.insert(sample.end(), row.begin(), row.end());
    }
  }  // an unfinished stream is cancelled with its session
  double stream_per_disk_byte = 1.0;
  if (rows > 0 && table.estimated_rows > 0 && table.estimated_bytes > 0) {
    double disk_per_row = static_cast<double>(table.estimated_bytes) / static_cast<double>(table.estimated_rows);
    // Clamped: statistics that are far off must not make the estimate absurd.
    stream_per_disk_byte = std::clamp(static_cast<double>(sample.size()) / static_cast<double>(rows) / disk_per_row, 0.5, 20.0);
  }
  return stream_per_disk_byte * spool::compression_ratio(sample, level);
}

}  // namespace

void require_spool_room(const std::filesystem::path& folder, const std::string& source,
                        const std::string& snapshot_id, const plan::Plan& plan, int level) {
  if (plan.chunks.empty()) return;
  std::vector<size_t> order(plan.tables.size());
  for (size_t t = 0; t < order.size(); ++t) order[t] = t;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return plan.tables[a].estimated_bytes > plan.tables[b].estimated_bytes; });
  size_t sampled = std::min(order.size(), kSampledTables);
  // The largest tables by their own samples; the rest at their weighted average.
  double needed_bytes = 0, sampled_disk = 0, rest_disk = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    auto disk = static_cast<double>(plan.tables[order[i]].estimated_bytes);
    if (i >= sampled) {
      rest_disk += disk;
      continue;
    }
    needed_bytes += disk * spool_bytes_per_disk_byte(source, snapshot_id, plan, order[i], kSampleBytes / sampled, level);
    sampled_disk += disk;
  }
  double ratio = sampled_disk > 0 ? needed_bytes / sampled_disk : 1.0;
  // A quarter more than the samples say: a sample's compression varies with where it is
  // taken, and a spool that runs out of disk mid-run costs more than one refused up front.
  auto needed = static_cast<int64_t>((needed_bytes + rest_disk * ratio) * 1.25);
  struct statvfs fs {};
  if (statvfs(folder.c_str(), &fs) != 0) return;
  auto free = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  if (needed > free) {
    throw usage_error(fmt::format("the spool needs about {} ({} of data on disk, spooled at {:.0f}% in samples of "
                                  "the {} largest tables), and {} has {} free",
                                  human_bytes(static_cast<double>(needed)),
                                  human_bytes(static_cast<double>(plan.estimated_bytes())), 100 * ratio, sampled,
                                  folder.string(), human_bytes(static_cast<double>(free))),
                      folder.string(), "free space there, or point --spool at a filesystem with room; nothing was written");
  }
  spdlog::info("spool: about {} expected ({:.0f}% of {}), {} free in {}", human_bytes(static_cast<double>(needed)),
               100 * ratio, human_bytes(static_cast<double>(plan.estimated_bytes())),
               human_bytes(static_cast<double>(free)), folder.string());
}

spool::Manifest start_manifest(const std::filesystem::path& folder, pg::Connection& source,
                               const plan::Plan& plan, const SpoolStart& start) {
  spool::Manifest m;
  if (auto earlier = spool::try_read_manifest(folder)) m = *earlier;
  auto now = std::chrono::system_clock::now();
  if (m.id.empty()) {
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    m.id = fmt::format("{}-{}", start.run_id, millis);
    m.created_at = utc_time(now);
    if (start.keep_seconds > 0) {
      m.expires_at = utc_time(now + std::chrono::seconds(static_cast<int64_t>(start.keep_seconds)));
    }
    m.snapshot = start.snapshot_id;
    m.snapshot_time = m.created_at;
  }
  m.complete = false;
  m.pgblit_version = PGBLIT_VERSION;
  m.source = pg::redact_conninfo(start.source);
  auto id = start::identify(source);
  m.source_system_identifier = id.cluster;
  m.source_server_version = id.server_version;
  m.run_id = start.run_id;
  m.level = start.level;
  m.tables.clear();
  for (const auto& t : plan.tables) {
    std::map<std::string, std::string> type_of;
    if (t.from_query()) {  // a query's columns: the types they are read as
      for (const auto& rule : t.column_rules) type_of[rule.name] = mapping::read_type(rule.source);
    } else {
      auto r = source.exec_params(
          "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
          "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
          {t.source}, t.source);
      for (int i = 0; i < r.rows(); ++i) type_of[r.text(i, 0)] = r.text(i, 1);
    }
    std::vector<std::string> types;
    for (const auto& c : t.columns) types.push_back(type_of[c]);
    m.tables.push_back({t.source, t.target, t.columns, types, plan::format_name(t.format), t.key_fields,
                        t.target_partitioned, !t.key_mapped, t.key, t.key_nullable,
                        t.chunking.starts_with("ctid") ? spool::kCtidRanges : spool::kKeyRanges});
  }
  m.chunks.clear();
  m.sequences.clear();
  auto sequences = source.exec_params(
      "SELECT format('%I.%I', schemaname, sequencename), last_value::text FROM pg_sequences "
      "WHERE schemaname = ANY ($1::text[]) ORDER BY 1",
      {pg::text_array_literal(plan.schemas)}, "sequences");
  for (int i = 0; i < sequences.rows(); ++i) {
    m.sequences.emplace_back(sequences.text(i, 0), sequences.is_null(i, 1) ? "" : sequences.text(i, 1));
  }
  return m;
}

spool::SpoolChunk spool_chunk(const std::filesystem::path& folder, const plan::Plan& plan, size_t c,
                              int64_t rows, int64_t raw_bytes, plan::CopyFormat format,
                              const checksums::ChunkDigest& digest) {
  auto file = spool::chunk_file_name(c);
  std::error_code error;
  auto size = std::filesystem::file_size(folder / file, error);
  if (error) {
    throw Error(ErrorKind::Runtime, fmt::format("the spool file {} of a finished chunk is missing", (folder / file).string()),
                (folder / file).string(), "the spool folder was changed during the run; start again with a new folder");
  }
  return planned_chunk(plan, c, rows, raw_bytes, static_cast<int64_t>(size), format, digest);
}

spool::SpoolChunk planned_chunk(const plan::Plan& plan, size_t c, int64_t rows, int64_t raw_bytes,
                                int64_t compressed_bytes, plan::CopyFormat format,
                                const checksums::ChunkDigest& digest) {
  const auto& chunk = plan.chunks[c];
  return {c,      chunk.table, spool::chunk_file_name(c), rows,        raw_bytes, compressed_bytes,
          plan::format_name(format), digest, chunk.lower, chunk.upper, chunk.null_keys};
}

}  // namespace pgblit::runs
