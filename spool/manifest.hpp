// A spool's manifest (manifest.json, documented in docs/spool.md, versioned): what the spool
// holds and how to trust it. Written when the spool starts (complete: false) and again, last
// of all, when every chunk file is on disk (complete: true); always durably (a temporary name,
// fsync, rename), so a spool without a complete manifest is recognized as incomplete.
//
// A spool is a file that travels: whoever reads a manifest treats it as untrusted input. It
// holds no SQL: a chunk's rows are a typed key range (bound values of named key columns, or
// ctid page numbers), which readers render into SQL only after checking the names against the
// catalog of the server they use (runs/spool_catalog.hpp). read_manifest refuses a manifest
// whose fields are missing, of the wrong type or out of range, naming the field.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "checksums/chunk_digest.hpp"
#include "core/defaults.hpp"

namespace pgblit::spool {

// 2: typed chunk ranges (key, key_nullable, ranges, chunks[].lower/upper/null_keys) instead
// of version 1's SQL predicates, which are never read.
inline constexpr int kManifestVersion = 2;

// How a table's chunks are cut: key ranges, ctid page ranges (valid on the source only), or
// one chunk (a table without a key too small to split).
inline constexpr const char* kKeyRanges = "key";
inline constexpr const char* kCtidRanges = "ctid";

struct SpoolTable {
  std::string source;   // "schema"."table" it was read from (checked: two quoted identifiers)
  std::string target;   // "schema"."table" it loads into
  std::vector<std::string> columns, types;
  std::string format;   // "binary" or "text": how its chunk files are encoded
  std::vector<int> key_fields;  // positions of the key's columns (for the digests' key hash)
  bool target_partitioned = false;  // the target routes rows to partitions (read without ONLY)
  bool ranges_on_target = true;     // its chunks' key ranges name the same rows on the target (a
                                    // mapped key does not: verify --spool compares it whole)
  std::vector<std::string> key{};   // the columns its chunks' ranges are on (source names)
  bool key_nullable = false;        // rows with a NULL key have a chunk of their own
  std::string ranges = kKeyRanges;  // kKeyRanges or kCtidRanges
};

struct SpoolChunk {
  size_t index = 0;
  size_t table = 0;     // into tables
  std::string file;     // relative to the spool folder: always chunk_file_name(index)
  int64_t rows = 0, raw_bytes = 0, compressed_bytes = 0;
  std::string format;
  checksums::ChunkDigest digest;  // XXH3, as verification computes it
  // Its rows: the key range [lower, upper) (text values of the key's columns, or ctid page
  // numbers); empty means unbounded, both empty the whole table. null_keys: the rows with a
  // NULL in the key.
  std::vector<std::string> lower{}, upper{};
  bool null_keys = false;
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
  int level = kDefaultSpoolLevel;
  std::vector<SpoolTable> tables;
  std::vector<SpoolChunk> chunks;
  // The selected schemas' sequences in the snapshot: (name, last value; "" never used).
  std::vector<std::pair<std::string, std::string>> sequences;

  // Version 1 manifests carry their chunks' rows as SQL text only, which is never run: their
  // spools restore, but nothing that needs a chunk's rows on a server (verify --spool, backup
  // --resume) reads them.
  bool typed_ranges() const { return version >= 2; }
};

// "schema"."table" as pg::qualified_name writes it, split into its two names; nullopt for
// anything else.
std::optional<std::pair<std::string, std::string>> split_qualified_name(const std::string& text);

nlohmann::json to_json(const Manifest& manifest);
Manifest read_manifest(const std::filesystem::path& folder);  // throws naming the file
std::optional<Manifest> try_read_manifest(const std::filesystem::path& folder);
void write_manifest(const std::filesystem::path& folder, const Manifest& manifest);
// The file a chunk's stream goes to, relative to the folder.
std::string chunk_file_name(size_t chunk);

}  // namespace pgblit::spool
