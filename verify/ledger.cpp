// See ledger.hpp.
#include "verify/ledger.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "plan/copy_sql.hpp"

namespace pgblit::verify {

Ledger::Ledger(const plan::Plan& plan, std::set<std::string> prefilled)
    : plan_(plan), prefilled_(std::move(prefilled)), chunks_(plan.chunks.size()) {
  for (const auto& t : plan.tables) ++sources_per_target_[t.target];
}

Method Ledger::method(size_t table) const {
  const auto& t = plan_.tables[table];
  if (prefilled_.count(t.target)) {
    bool key_copied = !t.key.empty() && std::all_of(t.key_fields.begin(), t.key_fields.end(), [](int f) { return f >= 0; });
    return key_copied && sources_per_target_.at(t.target) == 1 ? Method::CopiedRows : Method::NotCompared;
  }
  return t.verify_by_chunk ? Method::ByChunk : Method::Whole;
}

bool Ledger::summed_per_table(size_t table) const {
  return method(table) == Method::Whole || method(table) == Method::CopiedRows;
}

std::vector<size_t> Ledger::compared_on_copied_rows() const {
  std::vector<size_t> out;
  for (size_t t = 0; t < plan_.tables.size(); ++t) {
    if (method(t) == Method::CopiedRows) out.push_back(t);
  }
  return out;
}

void Ledger::set_copied_rows(const std::string& target, const std::string& condition) {
  tables_[target].copied_rows = condition;
}

void Ledger::add_whole_source(size_t table, const checksums::ChunkDigest& digest, plan::CopyFormat format) {
  auto& sides = tables_[plan_.tables[table].target];
  sides.source += digest;
  sides.formats.insert(format);
  sides.tables.insert(table);
}

void Ledger::add_source_chunk(size_t chunk, const checksums::ChunkDigest& digest, plan::CopyFormat format) {
  chunks_[chunk].source = digest;
  chunks_[chunk].format = format;
  size_t table = plan_.chunks[chunk].table;
  if (summed_per_table(table)) add_whole_source(table, digest, format);
}

void Ledger::add_source_table(size_t table, const checksums::ChunkDigest& digest, plan::CopyFormat format) {
  if (summed_per_table(table)) add_whole_source(table, digest, format);
}

void Ledger::set_target_chunk(size_t chunk, const checksums::ChunkDigest& digest) { chunks_[chunk].target = digest; }

void Ledger::set_target_table(const std::string& target, const TableDigest& digest) {
  auto it = tables_.find(target);
  if (it != tables_.end()) it->second.target = digest;
}

std::string Ledger::copied_rows(const std::string& target) const {
  auto it = tables_.find(target);
  return it == tables_.end() ? "" : it->second.copied_rows;
}

std::vector<size_t> Ledger::chunks_to_read() const {
  std::vector<size_t> out;
  for (size_t c = 0; c < chunks_.size(); ++c) {
    if (method(plan_.chunks[c].table) == Method::ByChunk && !chunks_[c].target) out.push_back(c);
  }
  return out;
}

std::vector<Ledger::TargetRead> Ledger::tables_to_read() const {
  std::vector<TargetRead> out;
  for (const auto& [name, sides] : tables_) {
    if (sides.formats.size() != 1) continue;  // not compared (mixed), or nothing came
    auto format = *sides.formats.begin();
    if (sides.target && sides.target->format == format) continue;
    // Any of its source tables will do: they share the target's column order.
    size_t table = *sides.tables.begin();
    if (method(table) == Method::CopiedRows && sides.copied_rows.empty()) continue;  // its keys were not loaded
    out.push_back({name, WholeTable{&plan_.tables[table], format}, sides.copied_rows});
  }
  return out;
}

Report Ledger::compare() const {
  Report report;
  for (const auto& name : prefilled_) {
    auto sides = tables_.find(name);
    if (sides == tables_.end() || sides->second.tables.empty() || sides->second.copied_rows.empty()) {
      report.not_compared.push_back(name + ": it held rows before the copy, and no single source table with a copied "
                                           "key tells the copied rows from the others");
    } else {
      report.copied_rows_only.push_back(name);
    }
  }
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const auto& chunk = plan_.chunks[c];
    if (method(chunk.table) != Method::ByChunk) continue;
    const auto& table = plan_.tables[chunk.table];
    const auto& sides = chunks_[c];
    ++report.chunks_compared;
    if (!sides.source || !sides.target || *sides.source != *sides.target) {
      report.differences.push_back({fmt::format("chunk {} of {} ({})", c, table.source,
                                                chunk.predicate.empty() ? "whole table" : chunk.predicate),
                                    c, chunk.table, sides.source.value_or(checksums::ChunkDigest{}),
                                    sides.target.value_or(checksums::ChunkDigest{}), {}});
    }
  }
  for (const auto& [name, sides] : tables_) {
    if (sides.tables.empty()) continue;  // copied rows of a table nothing was posted for
    if (prefilled_.count(name) && sides.copied_rows.empty()) continue;
    if (sides.formats.size() > 1) {
      report.not_compared.push_back(name + ": its chunks travelled partly in binary, partly as text");
      continue;
    }
    ++report.tables_compared;
    auto target = sides.target ? sides.target->digest : checksums::ChunkDigest{};
    if (!sides.target || target != sides.source) {
      std::optional<size_t> table;
      if (sides.tables.size() == 1) table = *sides.tables.begin();
      report.differences.push_back({"table " + name, std::nullopt, table, sides.source, target, {}});
    }
  }
  return report;
}

void read_target_side(Ledger& ledger, pg::Connection& target, const std::string& target_conninfo, int jobs,
                      pg::Cancellation& cancellation) {
  // A worker that died between a chunk's commit and its read-back left no target digest.
  for (size_t c : ledger.chunks_to_read()) {
    const auto& chunk = ledger.plan().chunks[c];
    const auto& table = ledger.plan().tables[chunk.table];
    auto format = ledger.chunk_format(c);
    ledger.set_target_chunk(c, digest_copy_out(target, plan::target_copy_out_sql(table, chunk.predicate, format),
                                               table, format, cancellation));
  }
  // The target tables not read yet, read together (their ranges share the sessions).
  std::vector<Ledger::TargetRead> whole;
  for (auto& read : ledger.tables_to_read()) {
    if (read.condition.empty()) {
      whole.push_back(std::move(read));
      continue;
    }
    // The copied rows: through the temporary table of their keys, which only `target` sees.
    const auto& table = *read.table.table;
    auto sql = plan::target_copy_out_sql(table, read.condition, read.table.format);
    ledger.set_target_table(read.name,
                            {read.table.format, digest_copy_out(target, sql, table, read.table.format, cancellation)});
  }
  std::vector<WholeTable> tables;
  for (const auto& read : whole) tables.push_back(read.table);
  auto digests = digest_whole_tables(target, Side::Target, target_conninfo, "", jobs, tables, cancellation);
  for (size_t i = 0; i < whole.size(); ++i) ledger.set_target_table(whole[i].name, {tables[i].format, digests[i]});
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& d : report.differences) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : d.rows) {
      rows.push_back({{"kind", to_string(r.kind)}, {"key", r.key}});
      if (!r.columns.empty()) rows.back()["columns"] = r.columns;
    }
    differences.push_back({{"what", d.what},
                           {"source", {{"rows", d.source.rows}, {"digest", d.source.to_string()}}},
                           {"target", {{"rows", d.target.rows}, {"digest", d.target.to_string()}}},
                           {"rows", rows}});
  }
  return {{"ok", report.ok()},
          {"chunks_compared", report.chunks_compared},
          {"tables_compared", report.tables_compared},
          {"not_compared", report.not_compared},
          {"compared_on_copied_rows", report.copied_rows_only},
          {"seconds", report.seconds},
          {"differences", differences},
          {"changed_values", report.changed_values}};
}

}  // namespace pgblit::verify
