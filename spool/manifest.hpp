// A spool's manifest (manifest.json, documented in docs/spool.md, versioned): what the spool
// holds and how to trust it. Written when the spool starts (complete: false) and again, last
// of all, when every chunk file is on disk (complete: true); always durably (a temporary name,
// fsync, rename), so a spool without a complete manifest is recognized as incomplete.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "checksums/chunk_digest.hpp"

namespace pgblit::spool {

inline constexpr int kManifestVersion = 1;

struct SpoolTable {
  std::string source;   // "schema"."table" it was read from
  std::string target;   // "schema"."table" it loads into
  std::vector<std::string> columns, types;
  std::string format;   // "binary" or "text": how its chunk files are encoded
  std::vector<int> key_fields;  // positions of the key's columns (for the digests' key hash)
  bool target_partitioned = false;  // the target routes rows to partitions (read without ONLY)
  bool ranges_on_target = true;     // its chunks' predicates name the same rows on the target (a
                                    // mapped key does not: verify --spool compares it whole)
};

struct SpoolChunk {
  size_t index = 0;
  size_t table = 0;     // into tables
  std::string file;     // relative to the spool folder
  std::string predicate;
  int64_t rows = 0, raw_bytes = 0, compressed_bytes = 0;
  std::string format;
  checksums::ChunkDigest digest;  // XXH3, as verification computes it
};

struct Manifest {
  int version = kManifestVersion;
  std::string id;               // this spool's identity (restores record it on the target)
  bool complete = false;
  std::string pgblit_version, created_at, expires_at;  // expires_at: "" for never
  std::string source;           // redacted
  std::string source_system_identifier, source_server_version;
  std::string snapshot, snapshot_time;
  int64_t run_id = 0;
  int level = 3;
  std::vector<SpoolTable> tables;
  std::vector<SpoolChunk> chunks;
  // The selected schemas' sequences in the snapshot: (name, last value; "" never used).
  std::vector<std::pair<std::string, std::string>> sequences;
};

nlohmann::json to_json(const Manifest& manifest);
Manifest read_manifest(const std::filesystem::path& folder);  // throws naming the file
std::optional<Manifest> try_read_manifest(const std::filesystem::path& folder);
void write_manifest(const std::filesystem::path& folder, const Manifest& manifest);
// The file a chunk's stream goes to, relative to the folder.
std::string chunk_file_name(size_t chunk);

}  // namespace pgblit::spool
