// See verification.hpp.
#include "engine/verification.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>

#include "engine/copy_digest.hpp"

namespace pgblit::engine {

VerificationReport verify_copied(const partitioner::Plan& plan, const std::vector<ChunkOutcome>& outcomes,
                                 const std::set<std::string>& skipped, const TableDigests& already_read,
                                 pg::Connection& target, const std::string& target_conninfo, int jobs,
                                 Cancellation& cancellation) {
  VerificationReport report;
  struct Whole {
    checksums::ChunkDigest source;
    std::optional<partitioner::CopyFormat> format;
    bool mixed_formats = false;
    std::set<size_t> tables;  // the source tables loading into it
  };
  std::map<std::string, Whole> wholes;  // by target table
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    const auto& chunk = plan.chunks[c];
    const auto& table = plan.tables[chunk.table];
    const auto& outcome = outcomes[c];
    if (skipped.count(table.target)) continue;
    if (table.verify_by_chunk) {
      ++report.chunks_compared;
      if (!outcome.target_digest || *outcome.target_digest != outcome.source_digest) {
        report.mismatches.push_back({fmt::format("chunk {} of {} ({})", c, table.source,
                                                 chunk.predicate.empty() ? "whole table" : chunk.predicate),
                                     c, chunk.table, outcome.source_digest,
                                     outcome.target_digest.value_or(checksums::ChunkDigest{})});
      }
      continue;
    }
    auto& whole = wholes[table.target];
    whole.source += outcome.source_digest;
    whole.tables.insert(chunk.table);
    if (whole.format && *whole.format != outcome.format) whole.mixed_formats = true;
    whole.format = outcome.format;
  }
  for (const auto& [name, whole] : wholes) {
    if (whole.mixed_formats) {
      spdlog::warn("{}: not verified: its chunks travelled partly in binary, partly as text", name);
      continue;
    }
    size_t first = *whole.tables.begin();  // any of them: they share the target's column order
    const auto& table = plan.tables[first];
    auto format = whole.format.value_or(partitioner::CopyFormat::Binary);
    auto read = already_read.find(name);
    auto digest = read != already_read.end() && read->second.format == format
                      ? read->second.digest
                      : digest_whole_table(target, Side::Target, target_conninfo, "", jobs, table, format, cancellation);
    ++report.tables_compared;
    if (digest != whole.source) {
      report.mismatches.push_back({"table " + name, std::nullopt,
                                   whole.tables.size() == 1 ? std::optional<size_t>(first) : std::nullopt, whole.source,
                                   digest});
    }
  }
  return report;
}

}  // namespace pgblit::engine
