// See spool_catalog.hpp.
#include "runs/spool_catalog.hpp"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "core/error.hpp"
#include "plan/chunking.hpp"
#include "plan/copy_sql.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {
namespace {

const char* side_name(SpoolSide side) { return side == SpoolSide::Source ? "source" : "target"; }

// A table as the server's catalog has it: its quoted name and its columns' types.
struct CatalogTable {
  std::string name;
  bool partitioned = false;
  std::map<std::string, std::string> type_of;  // column -> format_type
};

CatalogTable look_up(pg::Connection& conn, const std::string& manifest_name, const std::string& field, SpoolSide side) {
  auto parts = spool::split_qualified_name(manifest_name);  // read_manifest checked it
  if (!parts) throw usage_error(fmt::format("{} is not a table name", field), field);
  auto r = conn.exec_params(R"(
SELECT n.nspname, c.relname, c.relkind = 'p', a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))",
                            {parts->first, parts->second}, "the spool's tables");
  if (r.rows() == 0) {
    throw usage_error(fmt::format("table {} does not exist on the {} (the spool manifest's {})",
                                  pg::qualified_name(parts->first, parts->second), side_name(side), field),
                      manifest_name,
                      side == SpoolSide::Target
                          ? "create the schema first (the migrations, or the spool's schema.dump), then restore"
                          : "the backup can only be resumed from the source it began on, with its tables");
  }
  CatalogTable t{pg::qualified_name(r.text(0, 0), r.text(0, 1)), r.boolean(0, 2), {}};
  for (int i = 0; i < r.rows(); ++i) {
    if (!r.is_null(i, 3)) t.type_of[r.text(i, 3)] = r.text(i, 4);
  }
  return t;
}

void require_column(const CatalogTable& table, const std::string& column, const std::string& field, SpoolSide side) {
  if (table.type_of.contains(column)) return;
  throw usage_error(fmt::format("column {} of {} does not exist on the {} (the spool manifest's {})",
                                pg::quote_ident(column), table.name, side_name(side), field),
                    table.name, "the spool was made from other tables: restore it where its schema is");
}

// The SQL condition of a chunk's typed range, on a table whose key is `key` (catalog types).
std::string range_predicate(const spool::SpoolTable& table, const plan::TableKey& key,
                            const spool::SpoolChunk& chunk) {
  if (chunk.null_keys) return plan::null_key_predicate(key);
  if (chunk.lower.empty() && chunk.upper.empty()) return "";  // the whole table
  if (table.ranges == spool::kCtidRanges) {
    // Checked to be page numbers by read_manifest.
    return plan::ctid_range_predicate(chunk.lower.empty() ? -1 : std::stoll(chunk.lower[0]),
                                             chunk.upper.empty() ? -1 : std::stoll(chunk.upper[0]));
  }
  return plan::key_range_predicate(key, chunk.lower, chunk.upper) +
         (key.nullable ? " AND NOT " + plan::null_key_predicate(key) : "");
}

}  // namespace

SpoolPlan spool_plan(pg::Connection& conn, const spool::Manifest& manifest, const std::set<size_t>& tables,
                     SpoolSide side) {
  SpoolPlan out;
  std::map<size_t, size_t> index;
  std::vector<plan::TableKey> keys;
  for (size_t t : tables) {
    const auto& spooled = manifest.tables[t];
    std::string field = fmt::format("tables[{}].{}", t, side_name(side));
    auto found = look_up(conn, side == SpoolSide::Source ? spooled.source : spooled.target, field, side);
    for (size_t c = 0; c < spooled.columns.size(); ++c) {
      require_column(found, spooled.columns[c], fmt::format("tables[{}].columns[{}]", t, c), side);
    }
    // Ranges are read where they mean the rows they were cut as: key ranges on either side
    // (unless a mapping changed the key), ctid page ranges only on the source they came from.
    bool by_range = manifest.typed_ranges() &&
                    (spooled.ranges == spool::kKeyRanges
                         ? !spooled.key.empty() && (side == SpoolSide::Source || spooled.ranges_on_target)
                         : side == SpoolSide::Source);
    plan::TableKey key;
    key.nullable = spooled.key_nullable;
    if (by_range && spooled.ranges == spool::kKeyRanges) {
      for (size_t k = 0; k < spooled.key.size(); ++k) {
        require_column(found, spooled.key[k], fmt::format("tables[{}].key[{}]", t, k), side);
        key.columns.push_back(spooled.key[k]);
        key.types.push_back(found.type_of.at(spooled.key[k]));
      }
    }
    plan::TableCopy copy;
    copy.source = side == SpoolSide::Source ? found.name : spooled.source;
    copy.target = side == SpoolSide::Target ? found.name : spooled.target;
    copy.columns = spooled.columns;
    copy.format = plan::format_from_name(spooled.format);
    copy.key_fields = spooled.key_fields;
    copy.target_partitioned = side == SpoolSide::Target ? found.partitioned : spooled.target_partitioned;
    copy.key = key.columns;
    copy.key_types = key.types;
    copy.key_nullable = key.nullable;
    copy.chunking = "spool";
    index[t] = out.plan.tables.size();
    out.plan.tables.push_back(std::move(copy));
    out.table_of.push_back(t);
    out.by_range.push_back(by_range);
    keys.push_back(std::move(key));
  }
  for (const auto& c : manifest.chunks) {
    if (!index.contains(c.table)) continue;
    size_t t = index[c.table];
    plan::Chunk chunk;
    chunk.table = t;
    if (out.by_range[t]) chunk.predicate = range_predicate(manifest.tables[c.table], keys[t], c);
    chunk.lower = c.lower;
    chunk.upper = c.upper;
    chunk.null_keys = c.null_keys;
    chunk.estimated_bytes = std::max<int64_t>(c.raw_bytes, 0);
    auto& table = out.plan.tables[t];
    table.estimated_bytes += chunk.estimated_bytes;
    table.estimated_rows = std::max<int64_t>(table.estimated_rows, 0) + std::max<int64_t>(c.rows, 0);
    out.plan.chunks.push_back(std::move(chunk));
    out.chunk_of.push_back(c.index);
  }
  return out;
}

}  // namespace pgblit::runs
