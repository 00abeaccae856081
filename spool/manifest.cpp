// See manifest.hpp.
#include "spool/manifest.hpp"

#include <fmt/format.h>

#include <fstream>

#include "core/durable_file.hpp"
#include "core/error.hpp"

namespace pgblit::spool {
namespace {

constexpr const char* kFile = "manifest.json";

std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }
uint64_t unhex(const std::string& s) { return std::stoull(s, nullptr, 16); }

nlohmann::json digest_json(const checksums::ChunkDigest& d) {
  return {{"rows", d.rows}, {"row_hash_sum", hex(d.row_hash_sum)}, {"key_hash_sum", hex(d.key_hash_sum)}};
}

checksums::ChunkDigest digest_from(const nlohmann::json& j) {
  return {j.at("rows").get<uint64_t>(), unhex(j.at("row_hash_sum")), unhex(j.at("key_hash_sum"))};
}

}  // namespace

std::string chunk_file_name(size_t chunk) { return fmt::format("data/chunk-{:06}.copy.zst", chunk); }

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json tables = nlohmann::json::array(), chunks = nlohmann::json::array(),
                 sequences = nlohmann::json::array();
  for (const auto& [name, value] : m.sequences) {
    sequences.push_back({{"name", name}, {"last_value", value.empty() ? nlohmann::json() : nlohmann::json(value)}});
  }
  for (const auto& t : m.tables) {
    tables.push_back({{"source", t.source}, {"target", t.target}, {"columns", t.columns}, {"types", t.types},
                      {"format", t.format}, {"key_fields", t.key_fields},
                      {"target_partitioned", t.target_partitioned}, {"ranges_on_target", t.ranges_on_target}});
  }
  for (const auto& c : m.chunks) {
    chunks.push_back({{"index", c.index}, {"table", c.table}, {"file", c.file}, {"predicate", c.predicate},
                      {"rows", c.rows}, {"raw_bytes", c.raw_bytes}, {"compressed_bytes", c.compressed_bytes},
                      {"format", c.format}, {"digest", digest_json(c.digest)}});
  }
  return {{"format", "pgblit-spool"},
          {"version", m.version},
          {"id", m.id},
          {"complete", m.complete},
          {"pgblit_version", m.pgblit_version},
          {"created_at", m.created_at},
          {"expires_at", m.expires_at},
          {"source", m.source},
          {"source_system_identifier", m.source_system_identifier},
          {"source_server_version", m.source_server_version},
          {"snapshot", m.snapshot},
          {"snapshot_time", m.snapshot_time},
          {"run_id", m.run_id},
          {"level", m.level},
          {"tables", tables},
          {"chunks", chunks},
          {"sequences", sequences}};
}

Manifest read_manifest(const std::filesystem::path& folder) {
  auto path = folder / kFile;
  std::ifstream in(path);
  if (!in) {
    throw usage_error(fmt::format("{} has no manifest: not a spool, or one whose start was interrupted", folder.string()),
                      path.string(), "give the folder a pgblit copy --spool or backup wrote");
  }
  try {
    auto j = nlohmann::json::parse(in);
    if (j.at("format") != "pgblit-spool") throw usage_error("not a pgblit spool manifest", path.string());
    Manifest m;
    m.version = j.at("version");
    if (m.version > kManifestVersion) {
      throw usage_error(fmt::format("spool manifest version {} is newer than this pgblit reads ({})", m.version,
                                    kManifestVersion),
                        path.string(), "use the pgblit that wrote it, or a newer one");
    }
    m.id = j.at("id");
    m.complete = j.at("complete");
    m.pgblit_version = j.value("pgblit_version", "");
    m.created_at = j.value("created_at", "");
    m.expires_at = j.value("expires_at", "");
    m.source = j.value("source", "");
    m.source_system_identifier = j.value("source_system_identifier", "");
    m.source_server_version = j.value("source_server_version", "");
    m.snapshot = j.value("snapshot", "");
    m.snapshot_time = j.value("snapshot_time", "");
    m.run_id = j.value("run_id", int64_t{0});
    m.level = j.value("level", 3);
    for (const auto& t : j.at("tables")) {
      m.tables.push_back({t.at("source"), t.at("target"), t.at("columns"), t.at("types"), t.at("format"),
                          t.at("key_fields"), t.value("target_partitioned", false), t.value("ranges_on_target", true)});
    }
    for (const auto& c : j.at("chunks")) {
      m.chunks.push_back({c.at("index"), c.at("table"), c.at("file"), c.at("predicate"), c.at("rows"),
                          c.at("raw_bytes"), c.at("compressed_bytes"), c.at("format"), digest_from(c.at("digest"))});
    }
    for (const auto& s : j.value("sequences", nlohmann::json::array())) {
      m.sequences.emplace_back(s.at("name"), s.at("last_value").is_null() ? "" : s.at("last_value").get<std::string>());
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw usage_error(fmt::format("the spool manifest {} is malformed: {}", path.string(), e.what()), path.string(),
                      "it was edited or damaged; a spool is only trusted with its manifest as written");
  }
}

std::optional<Manifest> try_read_manifest(const std::filesystem::path& folder) {
  if (!std::filesystem::exists(folder / kFile)) return std::nullopt;
  return read_manifest(folder);
}

void write_manifest(const std::filesystem::path& folder, const Manifest& manifest) {
  DurableFile::write_whole(folder / kFile, to_json(manifest).dump(1) + "\n", "spool manifest",
                           "free space or fix permissions in the spool folder, then continue with --resume");
}

}  // namespace pgblit::spool
