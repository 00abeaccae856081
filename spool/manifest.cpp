// See manifest.hpp.
#include "spool/manifest.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <fstream>

#include "core/durable_file.hpp"
#include "core/error.hpp"

namespace pgblit::spool {
namespace {

constexpr const char* kFile = "manifest.json";

std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }

nlohmann::json digest_json(const checksums::ChunkDigest& d) {
  return {{"rows", d.rows}, {"row_hash_sum", hex(d.row_hash_sum)}, {"key_hash_sum", hex(d.key_hash_sum)}};
}

// A field that is not what it must be: the reading stops, naming it ("chunks[3].file").
struct Malformed {
  std::string field, why;
};

// Typed reads of one JSON object's fields, each failure naming the field by its path.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) throw Malformed{path_.empty() ? "(the top level)" : path_, "is not an object"};
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const nlohmann::json& at(const std::string& key) const {
    if (!j_.contains(key)) throw Malformed{name(key), "is missing"};
    return j_.at(key);
  }
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  std::string text(const std::string& key) const { return text_value(at(key), name(key)); }
  std::string text_or(const std::string& key, const std::string& otherwise) const {
    return has(key) ? text(key) : otherwise;
  }
  bool boolean(const std::string& key) const {
    if (!at(key).is_boolean()) throw Malformed{name(key), "is not true or false"};
    return at(key).get<bool>();
  }
  bool boolean_or(const std::string& key, bool otherwise) const { return has(key) ? boolean(key) : otherwise; }
  int64_t integer(const std::string& key, int64_t min, int64_t max) const {
    const auto& v = at(key);
    if (!v.is_number_integer()) throw Malformed{name(key), "is not an integer"};
    int64_t n = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? -1 : v.get<int64_t>();
    if (n < min || n > max) throw Malformed{name(key), fmt::format("is {} (not between {} and {})", v.dump(), min, max)};
    return n;
  }
  std::vector<std::string> texts(const std::string& key) const {
    const auto& v = at(key);
    if (!v.is_array()) throw Malformed{name(key), "is not an array"};
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(text_value(v[i], fmt::format("{}[{}]", name(key), i)));
    return out;
  }
  std::string one_of(const std::string& key, std::initializer_list<const char*> values) const {
    auto v = text(key);
    for (const char* allowed : values) {
      if (v == allowed) return v;
    }
    throw Malformed{name(key), fmt::format("is \"{}\" (expected one of: {})", v, fmt::join(values, ", "))};
  }
  uint64_t hex64(const std::string& key) const {
    auto v = text(key);
    uint64_t n = 0;
    auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), n, 16);
    if (v.empty() || error != std::errc() || end != v.data() + v.size()) throw Malformed{name(key), "is not a hex number"};
    return n;
  }

  // Strings that may end up in SQL (quoted) must not hold a NUL, which libpq would cut them at.
  static std::string text_value(const nlohmann::json& v, const std::string& field) {
    if (!v.is_string()) throw Malformed{field, "is not a string"};
    auto s = v.get<std::string>();
    if (s.find('\0') != std::string::npos) throw Malformed{field, "holds a NUL character"};
    return s;
  }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

std::string qualified(const Fields& f, const std::string& key) {
  auto v = f.text(key);
  if (!split_qualified_name(v)) throw Malformed{f.name(key), "is not a \"schema\".\"table\" name"};
  return v;
}

SpoolTable table_from(const Fields& f, int version) {
  SpoolTable t;
  t.source = qualified(f, "source");
  t.target = qualified(f, "target");
  t.columns = f.texts("columns");
  t.types = f.texts("types");
  if (t.types.size() != t.columns.size()) throw Malformed{f.name("types"), "does not have one type per column"};
  t.format = f.one_of("format", {"binary", "text"});
  const auto& fields = f.at("key_fields");
  if (!fields.is_array()) throw Malformed{f.name("key_fields"), "is not an array"};
  for (size_t k = 0; k < fields.size(); ++k) {
    auto field = f.name(fmt::format("key_fields[{}]", k));
    if (!fields[k].is_number_integer()) throw Malformed{field, "is not an integer"};
    auto n = fields[k].get<int64_t>();
    if (n < -1 || n >= static_cast<int64_t>(t.columns.size())) throw Malformed{field, "is not a column's position"};
    t.key_fields.push_back(static_cast<int>(n));
  }
  t.target_partitioned = f.boolean_or("target_partitioned", false);
  t.ranges_on_target = f.boolean_or("ranges_on_target", true);
  if (version >= 2) {
    t.key = f.texts("key");
    if (t.key.size() != t.key_fields.size()) throw Malformed{f.name("key"), "does not match key_fields"};
    t.key_nullable = f.boolean("key_nullable");
    t.ranges = f.one_of("ranges", {kKeyRanges, kCtidRanges});
  }
  return t;
}

// Digits only, as a page number ("12"), so a ctid bound renders as nothing but a number.
bool page_number(const std::string& v) {
  uint32_t n = 0;
  auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), n);
  return !v.empty() && error == std::errc() && end == v.data() + v.size();
}

SpoolChunk chunk_from(const Fields& f, size_t position, const std::vector<SpoolTable>& tables, int version) {
  SpoolChunk c;
  c.index = static_cast<size_t>(f.integer("index", 0, INT32_MAX));
  if (c.index != position) throw Malformed{f.name("index"), fmt::format("is {} (chunks are listed in order)", c.index)};
  c.table = static_cast<size_t>(f.integer("table", 0, static_cast<int64_t>(tables.size()) - 1));
  c.file = f.text("file");
  if (c.file != chunk_file_name(c.index)) throw Malformed{f.name("file"), "is not " + chunk_file_name(c.index)};
  c.rows = f.integer("rows", -1, INT64_MAX);
  c.raw_bytes = f.integer("raw_bytes", -1, INT64_MAX);
  c.compressed_bytes = f.integer("compressed_bytes", -1, INT64_MAX);
  c.format = f.one_of("format", {"binary", "text"});
  if (f.has("digest")) {
    Fields d(f.at("digest"), f.name("digest"));
    c.digest = {static_cast<uint64_t>(d.integer("rows", 0, INT64_MAX)), d.hex64("row_hash_sum"), d.hex64("key_hash_sum")};
  } else if (c.rows >= 0) {
    f.at("digest");  // a finished chunk has one
  }
  if (version < 2) return c;
  const auto& table = tables[c.table];
  c.lower = f.texts("lower");
  c.upper = f.texts("upper");
  c.null_keys = f.boolean("null_keys");
  if (c.null_keys && (!table.key_nullable || !c.lower.empty() || !c.upper.empty())) {
    throw Malformed{f.name("null_keys"), "is true for a chunk with bounds or a table whose key allows no NULL"};
  }
  size_t arity = table.ranges == kCtidRanges ? 1 : table.key.size();
  for (const auto* bound : {&c.lower, &c.upper}) {
    auto field = f.name(bound == &c.lower ? "lower" : "upper");
    if (!bound->empty() && bound->size() != arity) {
      throw Malformed{field, fmt::format("has {} values where the table's ranges have {}", bound->size(), arity)};
    }
    if (table.ranges == kCtidRanges && !bound->empty() && !page_number(bound->front())) {
      throw Malformed{field, "is not a page number"};
    }
  }
  return c;
}

Manifest manifest_from(const nlohmann::json& j, const std::string& path) {
  Fields top(j, "");
  if (!top.at("format").is_string() || top.at("format") != "pgblit-spool") {
    throw usage_error("not a pgblit spool manifest", path);
  }
  Manifest m;
  m.version = static_cast<int>(top.integer("version", 1, INT32_MAX));
  if (m.version > kManifestVersion) {
    throw usage_error(fmt::format("spool manifest version {} is newer than this pgblit reads ({})", m.version,
                                  kManifestVersion),
                      path, "use the pgblit that wrote it, or a newer one");
  }
  m.id = top.text("id");
  m.complete = top.boolean("complete");
  m.pgblit_version = top.text_or("pgblit_version", "");
  m.created_at = top.text_or("created_at", "");
  m.expires_at = top.text_or("expires_at", "");
  m.source = top.text_or("source", "");
  m.source_system_identifier = top.text_or("source_system_identifier", "");
  m.source_server_version = top.text_or("source_server_version", "");
  m.snapshot = top.text_or("snapshot", "");
  m.snapshot_time = top.text_or("snapshot_time", "");
  m.run_id = top.has("run_id") ? top.integer("run_id", 0, INT64_MAX) : 0;
  m.level = top.has("level") ? static_cast<int>(top.integer("level", -131072, 22)) : 3;
  const auto& tables = top.at("tables");
  if (!tables.is_array()) throw Malformed{"tables", "is not an array"};
  for (size_t i = 0; i < tables.size(); ++i) {
    m.tables.push_back(table_from(Fields(tables[i], fmt::format("tables[{}]", i)), m.version));
  }
  const auto& chunks = top.at("chunks");
  if (!chunks.is_array()) throw Malformed{"chunks", "is not an array"};
  for (size_t i = 0; i < chunks.size(); ++i) {
    m.chunks.push_back(chunk_from(Fields(chunks[i], fmt::format("chunks[{}]", i)), i, m.tables, m.version));
  }
  if (top.has("sequences")) {
    const auto& sequences = top.at("sequences");
    if (!sequences.is_array()) throw Malformed{"sequences", "is not an array"};
    for (size_t i = 0; i < sequences.size(); ++i) {
      Fields s(sequences[i], fmt::format("sequences[{}]", i));
      m.sequences.emplace_back(s.text("name"), s.text_or("last_value", ""));
    }
  }
  return m;
}

}  // namespace

std::string chunk_file_name(size_t chunk) { return fmt::format("data/chunk-{:06}.copy.zst", chunk); }

std::optional<std::pair<std::string, std::string>> split_qualified_name(const std::string& text) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < text.size() && parts.size() < 2) {
    if (text[i] != '"') return std::nullopt;
    std::string name;
    for (++i;; ++i) {
      if (i >= text.size()) return std::nullopt;
      if (text[i] == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          name += '"';
          ++i;
          continue;
        }
        ++i;
        break;
      }
      name += text[i];
    }
    if (name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
    parts.push_back(std::move(name));
    if (parts.size() == 1) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (parts.size() != 2 || i != text.size()) return std::nullopt;
  return std::pair{parts[0], parts[1]};
}

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json tables = nlohmann::json::array(), chunks = nlohmann::json::array(),
                 sequences = nlohmann::json::array();
  for (const auto& [name, value] : m.sequences) {
    sequences.push_back({{"name", name}, {"last_value", value.empty() ? nlohmann::json() : nlohmann::json(value)}});
  }
  for (const auto& t : m.tables) {
    tables.push_back({{"source", t.source}, {"target", t.target}, {"columns", t.columns}, {"types", t.types},
                      {"format", t.format}, {"key_fields", t.key_fields},
                      {"target_partitioned", t.target_partitioned}, {"ranges_on_target", t.ranges_on_target},
                      {"key", t.key}, {"key_nullable", t.key_nullable}, {"ranges", t.ranges}});
  }
  for (const auto& c : m.chunks) {
    chunks.push_back({{"index", c.index}, {"table", c.table}, {"file", c.file}, {"lower", c.lower},
                      {"upper", c.upper}, {"null_keys", c.null_keys}, {"rows", c.rows}, {"raw_bytes", c.raw_bytes},
                      {"compressed_bytes", c.compressed_bytes}, {"format", c.format},
                      {"digest", digest_json(c.digest)}});
  }
  return {{"format", "pgblit-spool"},
          {"version", kManifestVersion},
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
  const char* hint = "it was edited or damaged; a spool is only trusted with its manifest as written";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw usage_error(fmt::format("the spool manifest {} is not JSON: {}", path.string(), e.what()), path.string(), hint);
  }
  try {
    return manifest_from(j, path.string());
  } catch (const Malformed& m) {
    throw usage_error(fmt::format("the spool manifest {} is malformed: {} {}", path.string(), m.field, m.why),
                      path.string(), hint);
  } catch (const nlohmann::json::exception& e) {
    throw usage_error(fmt::format("the spool manifest {} is malformed: {}", path.string(), e.what()), path.string(), hint);
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
