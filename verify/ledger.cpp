// See ledger.hpp.
#include "verify/ledger.hpp"

#include <fmt/format.h>

#include "partitioner/copy_sql.hpp"

namespace pgblit::verify {

Ledger::Ledger(const partitioner::Plan& plan, std::set<std::string> unverifiable)
    : plan_(plan), unverifiable_(std::move(unverifiable)), chunks_(plan.chunks.size()) {}

Method Ledger::method(size_t table) const {
  const auto& t = plan_.tables[table];
  if (unverifiable_.count(t.target)) return Method::NotCompared;
  return t.verify_by_chunk ? Method::ByChunk : Method::Whole;
}

void Ledger::add_whole_source(size_t table, const checksums::ChunkDigest& digest, partitioner::CopyFormat format) {
  auto& sides = tables_[plan_.tables[table].target];
  sides.source += digest;
  sides.formats.insert(format);
  sides.tables.insert(table);
}

void Ledger::add_source_chunk(size_t chunk, const checksums::ChunkDigest& digest, partitioner::CopyFormat format) {
  chunks_[chunk].source = digest;
  chunks_[chunk].format = format;
  size_t table = plan_.chunks[chunk].table;
  if (method(table) == Method::Whole) add_whole_source(table, digest, format);
}

void Ledger::add_source_table(size_t table, const checksums::ChunkDigest& digest, partitioner::CopyFormat format) {
  if (method(table) == Method::Whole) add_whole_source(table, digest, format);
}

void Ledger::set_target_chunk(size_t chunk, const checksums::ChunkDigest& digest) { chunks_[chunk].target = digest; }

void Ledger::set_target_table(const std::string& target, const TableDigest& digest) {
  auto it = tables_.find(target);
  if (it != tables_.end()) it->second.target = digest;
}

std::vector<size_t> Ledger::chunks_to_read() const {
  std::vector<size_t> out;
  for (size_t c = 0; c < chunks_.size(); ++c) {
    if (method(plan_.chunks[c].table) == Method::ByChunk && !chunks_[c].target) out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, WholeTable>> Ledger::tables_to_read() const {
  std::vector<std::pair<std::string, WholeTable>> out;
  for (const auto& [name, sides] : tables_) {
    if (sides.formats.size() != 1) continue;  // not compared (mixed), or nothing came
    auto format = *sides.formats.begin();
    if (sides.target && sides.target->format == format) continue;
    // Any of its source tables will do: they share the target's column order.
    out.emplace_back(name, WholeTable{&plan_.tables[*sides.tables.begin()], format});
  }
  return out;
}

Report Ledger::compare() const {
  Report report;
  for (const auto& name : unverifiable_) report.not_compared.push_back(name + ": it held rows before this append");
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
    ledger.set_target_chunk(c, digest_copy_out(target, partitioner::target_copy_out_sql(table, chunk.predicate, format),
                                               table, format, cancellation));
  }
  // The target tables not read yet, read together (their ranges share the sessions).
  auto wanted = ledger.tables_to_read();
  std::vector<WholeTable> tables;
  for (const auto& [name, table] : wanted) tables.push_back(table);
  auto digests = digest_whole_tables(target, Side::Target, target_conninfo, "", jobs, tables, cancellation);
  for (size_t i = 0; i < wanted.size(); ++i) ledger.set_target_table(wanted[i].first, {tables[i].format, digests[i]});
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& d : report.differences) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : d.rows) rows.push_back({{"kind", to_string(r.kind)}, {"key", r.key}});
    differences.push_back({{"what", d.what},
                           {"source", {{"rows", d.source.rows}, {"digest", d.source.to_string()}}},
                           {"target", {{"rows", d.target.rows}, {"digest", d.target.to_string()}}},
                           {"rows", rows}});
  }
  return {{"ok", report.ok()},
          {"chunks_compared", report.chunks_compared},
          {"tables_compared", report.tables_compared},
          {"not_compared", report.not_compared},
          {"seconds", report.seconds},
          {"differences", differences}};
}

}  // namespace pgblit::verify
