// See spool_setup.hpp.
#include "engine/spool_setup.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <chrono>
#include <map>

#include "core/private_files.hpp"
#include "core/units.hpp"
#include "engine/run_setup.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "spool/chunk_file.hpp"
#include "partitioner/copy_sql.hpp"
#include "pg/conninfo.hpp"

namespace pgblit::engine {
namespace {

constexpr size_t kSampleBytes = 8 << 20;  // of the largest chunk's stream, to measure compression

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

void require_spool_room(const std::filesystem::path& folder, const std::string& source,
                        const std::string& snapshot_id, const partitioner::Plan& plan, int level) {
  if (plan.chunks.empty()) return;
  size_t largest = 0;
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    if (plan.chunks[c].estimated_bytes > plan.chunks[largest].estimated_bytes) largest = c;
  }
  const auto& table = plan.tables[plan.chunks[largest].table];
  std::vector<char> sample;
  {
    auto session = pg::open_session(source, "source");
    pg::join_snapshot(session, snapshot_id);
    pg::CopyOut out(session, partitioner::copy_out_sql(table, plan.chunks[largest], table.format), table.source);
    for (auto row = out.next(); !row.empty() && sample.size() < kSampleBytes; row = out.next()) {
      sample.insert(sample.end(), row.begin(), row.end());
    }
  }  // an unfinished stream is cancelled with its session
  double ratio = spool::compression_ratio(sample, level);
  auto needed = static_cast<int64_t>(static_cast<double>(plan.estimated_bytes()) * ratio * 1.1);
  struct statvfs fs {};
  if (statvfs(folder.c_str(), &fs) != 0) return;
  auto free = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  if (needed > free) {
    throw usage_error(fmt::format("the spool needs about {} ({} of data compressing to {:.0f}% in a sample of {}), "
                                  "and {} has {} free",
                                  human_bytes(static_cast<double>(needed)),
                                  human_bytes(static_cast<double>(plan.estimated_bytes())), 100 * ratio,
                                  table.source, folder.string(), human_bytes(static_cast<double>(free))),
                      folder.string(), "free space there, or point --spool at a filesystem with room; nothing was written");
  }
  spdlog::info("spool: about {} expected ({:.0f}% of {}), {} free in {}", human_bytes(static_cast<double>(needed)),
               100 * ratio, human_bytes(static_cast<double>(plan.estimated_bytes())),
               human_bytes(static_cast<double>(free)), folder.string());
}

spool::Manifest start_manifest(const std::filesystem::path& folder, pg::Connection& source,
                               const partitioner::Plan& plan, const SpoolStart& start) {
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
  auto id = identify(source);
  m.source_system_identifier = id.cluster;
  m.source_server_version = id.server_version;
  m.run_id = start.run_id;
  m.level = start.level;
  m.tables.clear();
  for (const auto& t : plan.tables) {
    auto r = source.exec_params(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        {t.source}, t.source);
    std::map<std::string, std::string> type_of;
    for (int i = 0; i < r.rows(); ++i) type_of[r.text(i, 0)] = r.text(i, 1);
    std::vector<std::string> types;
    for (const auto& c : t.columns) types.push_back(type_of[c]);
    m.tables.push_back({t.source, t.target, t.columns, types, partitioner::format_name(t.format), t.key_fields,
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

spool::SpoolChunk spool_chunk(const std::filesystem::path& folder, const partitioner::Plan& plan, size_t c,
                              int64_t rows, int64_t raw_bytes, partitioner::CopyFormat format,
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

spool::SpoolChunk planned_chunk(const partitioner::Plan& plan, size_t c, int64_t rows, int64_t raw_bytes,
                                int64_t compressed_bytes, partitioner::CopyFormat format,
                                const checksums::ChunkDigest& digest) {
  const auto& chunk = plan.chunks[c];
  return {c,      chunk.table, spool::chunk_file_name(c), rows,        raw_bytes, compressed_bytes,
          partitioner::format_name(format), digest, chunk.lower, chunk.upper, chunk.null_keys};
}

}  // namespace pgblit::engine
