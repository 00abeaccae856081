// See rollback_checks.hpp.
#include "runs/rollback_checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <filesystem>

#include "mover/parallel.hpp"
#include "runs/spool_setup.hpp"
#include "plan/copy_sql.hpp"
#include "pg/sql.hpp"
#include "spool/chunk_file.hpp"
#include "spool/manifest.hpp"
#include "verify/copy_digest.hpp"

namespace pgblit::runs {
namespace {

const char* kUnchanged = "nothing changed";

// What a digest of a spool table's stream needs: its columns, format and key's positions.
plan::TableCopy digest_shape(const spool::SpoolTable& table) {
  plan::TableCopy copy;
  copy.columns = table.columns;
  copy.format = plan::format_from_name(table.format);
  copy.key_fields = table.key_fields;
  return copy;
}

// One chunk file read through: decompressed whole and digested as the reload will digest it.
void check_chunk_file(const std::filesystem::path& dir, const spool::Manifest& manifest, const spool::SpoolChunk& chunk) {
  auto path = dir / chunk.file;
  if (!std::filesystem::is_regular_file(path)) {
    throw usage_error(fmt::format("the backup file {} is missing: {}", path.string(), kUnchanged), path.string(),
                      "put the backup back whole (or restore the tables from your own backup)");
  }
  auto digester = verify::stream_digester(digest_shape(manifest.tables[chunk.table]),
                                          plan::format_from_name(chunk.format));
  try {
    spool::ChunkFileReader file(path);
    for (auto piece = file.next(); !piece.empty(); piece = file.next()) digester.consume(piece);
    digester.finish();
  } catch (const Error& e) {
    throw usage_error(fmt::format("the backup file {} is damaged ({}): {}", path.string(), e.what(), kUnchanged),
                      path.string(), "use another copy of the backup (or restore the tables from your own backup)");
  }
  if (!(digester.digest() == chunk.digest)) {
    throw usage_error(fmt::format("the backup file {} does not hold the rows its manifest describes ({} rows read, {} "
                                  "expected, or their digest differs): {}",
                                  path.string(), digester.digest().rows, chunk.digest.rows, kUnchanged),
                      path.string(), "use another copy of the backup (or restore the tables from your own backup)");
  }
}

}  // namespace

void check_backup(const std::string& dir_text, const std::vector<std::string>& tables, int64_t run, int jobs,
                  pg::Cancellation& cancellation) {
  std::filesystem::path dir(dir_text);
  if (!std::filesystem::is_directory(dir)) {
    throw usage_error(fmt::format("the backup {} that run {} took of the tables that held rows is missing: {}",
                                  dir.string(), run, kUnchanged),
                      dir.string(), "put the backup folder back where it was, then roll back again");
  }
  spool::Manifest manifest;
  try {
    manifest = spool::read_manifest(dir);
  } catch (const Error& e) {
    throw usage_error(fmt::format("the backup {} cannot be read: {}: {}", dir.string(), e.what(), kUnchanged),
                      dir.string(), "put the backup back whole, then roll back again");
  }
  if (!manifest.complete) {
    throw usage_error(fmt::format("the backup {} is incomplete: {}", dir.string(), kUnchanged), dir.string(),
                      "the backup was cut short; restore the tables from your own backup");
  }
  std::set<size_t> wanted;
  for (const auto& name : tables) {
    size_t found = manifest.tables.size();
    for (size_t t = 0; t < manifest.tables.size(); ++t) {
      if (manifest.tables[t].target == name) found = t;
    }
    if (found == manifest.tables.size()) {
      throw usage_error(fmt::format("the backup {} does not hold {}: {}", dir.string(), name, kUnchanged), name,
                        "this is not the backup run " + std::to_string(run) + " took; put that one back");
    }
    wanted.insert(found);
  }
  std::vector<const spool::SpoolChunk*> chunks;
  for (const auto& c : manifest.chunks) {
    if (c.table >= manifest.tables.size()) {
      throw usage_error(fmt::format("the backup manifest in {} names a table it does not describe: {}", dir.string(),
                                    kUnchanged),
                        dir.string(), "put the backup back whole, then roll back again");
    }
    if (wanted.contains(c.table)) chunks.push_back(&c);
  }
  std::atomic<size_t> next{0};
  mover::run_in_parallel(jobs, cancellation, [&] {
    for (size_t i = next++; i < chunks.size() && !cancellation.requested(); i = next++) {
      check_chunk_file(dir, manifest, *chunks[i]);
    }
  });
}

void require_rollback_privileges(pg::Connection& target, const std::vector<std::string>& tables,
                                 const std::vector<std::string>& reloaded, const std::vector<std::string>& sequences) {
  auto r = target.exec_params(R"(
SELECT t, has_table_privilege(c.oid, 'TRUNCATE'),
       NOT t = ANY($2::text[]) OR has_table_privilege(c.oid, 'INSERT'),
       NOT t = ANY($2::text[]) OR pg_has_role(c.relowner, 'USAGE')
         OR NOT (EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid)
                 OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'f', 'x')))
FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass
UNION ALL
SELECT s, true, has_sequence_privilege(s, 'UPDATE'), true FROM unnest($3::text[]) s WHERE to_regclass(s) IS NOT NULL)",
                              {pg::text_array_literal(tables), pg::text_array_literal(reloaded),
                               pg::text_array_literal(sequences)},
                              "privileges");
  std::vector<std::string> missing;
  for (int i = 0; i < r.rows(); ++i) {
    std::string name = r.text(i, 0);
    if (!r.boolean(i, 1)) missing.push_back("TRUNCATE on " + name);
    bool sequence = std::find(sequences.begin(), sequences.end(), name) != sequences.end();
    if (!r.boolean(i, 2)) missing.push_back((sequence ? "UPDATE on the sequence " : "INSERT on ") + name);
    if (!r.boolean(i, 3)) missing.push_back("ownership of " + name + " (its indexes are dropped and rebuilt for the reload)");
  }
  if (missing.empty()) return;
  throw usage_error(fmt::format("the target role lacks what the rollback needs: {}; {}", fmt::join(missing, ", "),
                                kUnchanged),
                    "", "roll back as the tables' owner (or a role granted these)");
}

std::map<std::string, std::vector<std::string>> later_runs(pg::Connection& target, const std::string& catalog_schema,
                                                           int64_t run, const std::vector<std::string>& tables) {
  auto r = target.exec_params(fmt::format(R"(
SELECT t.value ->> 'target', format('run %s (%s)', r.id, r.status)
FROM {0}.runs r, jsonb_array_elements(r.plan -> 'tables') t
WHERE r.id > $1 AND r.status <> 'rolled back' AND t.value ->> 'target' = ANY($2::text[])
  AND NOT (r.options ->> 'kind' = 'restore' AND r.options ->> 'spool' IN (
        SELECT o.options -> 'prior_state' ->> 'backup' FROM {0}.runs o WHERE o.status IN ('rolled back', 'rolling back')))
ORDER BY r.id)",
                                          pg::quote_ident(catalog_schema)),
                              {std::to_string(run), pg::text_array_literal(tables)}, catalog_schema + ".runs");
  std::map<std::string, std::vector<std::string>> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)].push_back(r.text(i, 1));
  return out;
}

}  // namespace pgblit::runs
