// See spool_setup.hpp.
#include "engine/spool_setup.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <map>

#include "engine/run_setup.hpp"
#include "partitioner/copy_sql.hpp"
#include "pg/conninfo.hpp"

namespace pgblit::engine {
namespace {

std::string utc_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

std::filesystem::path prepare_spool_folder(const std::string& folder, int64_t resumable_run) {
  std::error_code error;
  auto dir = std::filesystem::absolute(folder, error);
  if (!error) std::filesystem::create_directories(dir / "data", error);
  if (error) {
    throw usage_error(fmt::format("cannot create the spool folder {}: {}", folder, error.message()), folder,
                      "choose a writable folder with --spool; nothing was written");
  }
  auto existing = spool::try_read_manifest(dir);
  if (existing && (existing->complete || resumable_run == 0 || existing->run_id != resumable_run)) {
    throw usage_error(fmt::format("{} already holds a {} spool{}", dir.string(),
                                  existing->complete ? "complete" : "incomplete",
                                  existing->run_id ? fmt::format(" (run {})", existing->run_id) : ""),
                      dir.string(), "give each run a spool folder of its own (or remove the old one: pgblit spool prune)");
  }
  return dir;
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
    m.tables.push_back({t.source, t.target, t.columns, types, partitioner::format_name(t.format), t.key_fields});
  }
  m.chunks.clear();
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
  return {c, plan.chunks[c].table, file, plan.chunks[c].predicate, rows, raw_bytes, static_cast<int64_t>(size),
          partitioner::format_name(format), digest};
}

}  // namespace pgblit::engine
