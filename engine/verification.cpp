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
  // The target tables not read yet, read together (their ranges share the sessions).
  std::vector<std::string> names;
  std::vector<WholeTable> to_read;
  for (const auto& [name, whole] : wholes) {
    if (whole.mixed_formats) {
      spdlog::warn("{}: not verified: its chunks travelled partly in binary, partly as text", name);
      continue;
    }
    auto format = whole.format.value_or(partitioner::CopyFormat::Binary);
    auto read = already_read.find(name);
    if (read != already_read.end() && read->second.format == format) continue;
    names.push_back(name);
    // Any of its source tables will do: they share the target's column order.
    to_read.push_back({&plan.tables[*whole.tables.begin()], format});
  }
  auto digests = digest_whole_tables(target, Side::Target, target_conninfo, "", jobs, to_read, cancellation);
  TableDigests target_digests = already_read;
  for (size_t i = 0; i < names.size(); ++i) target_digests[names[i]] = {to_read[i].format, digests[i]};
  for (const auto& [name, whole] : wholes) {
    if (whole.mixed_formats) continue;
    const auto& digest = target_digests.at(name).digest;
    ++report.tables_compared;
    if (digest != whole.source) {
      size_t first = *whole.tables.begin();
      report.mismatches.push_back({"table " + name, std::nullopt,
                                   whole.tables.size() == 1 ? std::optional<size_t>(first) : std::nullopt, whole.source,
                                   digest});
    }
  }
  return report;
}

}  // namespace pgblit::engine
