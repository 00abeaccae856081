// A run's spool (copy --spool): the folder is checked before the first row moves, its
// manifest written as incomplete when the run starts and complete, last, when every chunk's
// file is on disk. The lanes write the chunk files (lane.cpp), each before its chunk commits,
// so a resumed run finds every committed chunk's file in place.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "engine/copy_run.hpp"
#include "engine/run_catalog.hpp"
#include "partitioner/copy_sql.hpp"
#include "pg/conninfo.hpp"
#include "spool/manifest.hpp"

namespace pgblit::engine {
namespace {

std::string utc_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

void CopyRun::prepare_spool() {
  if (options_.spool_dir.empty()) return;
  if (options_.max_rejects > 0) {
    throw usage_error("--spool and --max-rejects do not go together yet: a chunk loaded row by row has no single "
                      "stream to spool", options_.spool_dir, "spool without --max-rejects");
  }
  std::error_code error;
  auto dir = std::filesystem::absolute(options_.spool_dir, error);
  if (!error) std::filesystem::create_directories(dir / "data", error);
  if (error) {
    throw usage_error(fmt::format("cannot create the spool folder {}: {}", options_.spool_dir, error.message()),
                      options_.spool_dir, "choose a writable folder with --spool; nothing was written");
  }
  options_.spool_dir = dir.string();
  auto existing = spool::try_read_manifest(dir);
  if (existing && (existing->complete || existing->run_id != run_id_ || run_id_ == 0)) {
    throw usage_error(fmt::format("{} already holds a {} spool (run {})", dir.string(),
                                  existing->complete ? "complete" : "incomplete", existing->run_id),
                      dir.string(), "give each run a spool folder of its own (or remove the old one: pgblit spool prune)");
  }
}

void CopyRun::write_spool_manifest(bool complete, const std::vector<ChunkRecord>& records) {
  if (options_.spool_dir.empty() || joining()) return;
  const auto& plan = run_.plan;
  std::filesystem::path dir(options_.spool_dir);
  spool::Manifest m;
  if (auto earlier = spool::try_read_manifest(dir)) m = *earlier;  // keeps its id and creation time
  auto now = std::chrono::system_clock::now();
  if (m.id.empty()) {
    m.id = fmt::format("{}-{}", run_id_, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
    m.created_at = utc_time(now);
    if (options_.spool_keep_seconds > 0) {
      m.expires_at = utc_time(now + std::chrono::seconds(static_cast<int64_t>(options_.spool_keep_seconds)));
    }
    m.snapshot = run_.snapshot_id;
    m.snapshot_time = m.created_at;
  }
  m.complete = complete;
  m.pgblit_version = PGBLIT_VERSION;
  m.source = pg::redact_conninfo(options_.source);
  auto audit_json = audit();
  if (audit_json.contains("source")) {
    m.source_system_identifier = audit_json["source"].value("cluster", "");
    m.source_server_version = audit_json["source"].value("version", "");
  }
  m.run_id = run_id_;
  m.level = options_.spool_level;
  m.tables.clear();
  for (const auto& t : plan.tables) {
    auto r = run_.coordinator->exec_params(
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
  for (size_t c = 0; complete && c < plan.chunks.size(); ++c) {
    auto file = spool::chunk_file_name(c);
    std::error_code error;
    auto size = std::filesystem::file_size(dir / file, error);
    if (error) {
      throw Error(ErrorKind::Runtime, fmt::format("the spool file {} of a committed chunk is missing", (dir / file).string()),
                  (dir / file).string(), "the spool folder was changed during the run; copy again with a new --spool");
    }
    m.chunks.push_back({c, plan.chunks[c].table, file, plan.chunks[c].predicate, records[c].rows, records[c].bytes,
                        static_cast<int64_t>(size), partitioner::format_name(records[c].format),
                        records[c].source_digest});
  }
  spool::write_manifest(dir, m);
  if (complete) spdlog::info("spool: {} chunks in {} (manifest.json)", m.chunks.size(), dir.string());
}

}  // namespace pgblit::engine
