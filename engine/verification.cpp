// See verification.hpp.
#include "engine/verification.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <thread>

#include "engine/copy_digest.hpp"
#include "engine/session.hpp"
#include "partitioner/chunking.hpp"
#include "pg/sql.hpp"

namespace pgblit::engine {

namespace {

// The digest of a whole target table, read in ctid page ranges on `jobs` sessions at once
// (digests add up, so the parts' sum is the table's).
checksums::ChunkDigest digest_whole_target(pg::Connection& target, const std::string& conninfo, int jobs,
                                           const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                           Cancellation& cancellation) {
  int64_t pages = 0;
  if (!table.target_partitioned && target.server_version() >= 140000) {
    pages = target.exec("SELECT pg_relation_size(" + pg::quote_literal(table.target) +
                            "::regclass) / current_setting('block_size')::int",
                        table.target)
                .int64(0, 0);
  }
  int parts = pages >= 1000 ? std::max(1, jobs) : 1;
  if (parts == 1) return digest_copy_out(target, target_copy_out_sql(table, "", format), table, format, cancellation);
  std::vector<checksums::ChunkDigest> digests(static_cast<size_t>(parts));
  std::vector<std::exception_ptr> failures(static_cast<size_t>(parts));
  std::vector<std::thread> readers;
  for (int i = 0; i < parts; ++i) {
    readers.emplace_back([&, i] {
      try {
        auto session = open_session(conninfo, "target");
        int64_t first = i == 0 ? -1 : pages * i / parts;
        int64_t end = i == parts - 1 ? -1 : pages * (i + 1) / parts;
        digests[static_cast<size_t>(i)] =
            digest_copy_out(session, target_copy_out_sql(table, partitioner::ctid_range_predicate(first, end), format),
                            table, format, cancellation);
      } catch (...) {
        failures[static_cast<size_t>(i)] = std::current_exception();
      }
    });
  }
  for (auto& r : readers) r.join();
  checksums::ChunkDigest total;
  for (size_t i = 0; i < digests.size(); ++i) {
    if (failures[i]) std::rethrow_exception(failures[i]);
    total += digests[i];
  }
  return total;
}

}  // namespace

VerificationReport verify_copied(const partitioner::Plan& plan, const std::vector<ChunkOutcome>& outcomes,
                                 const std::set<std::string>& skipped, pg::Connection& target,
                                 const std::string& target_conninfo, int jobs, Cancellation& cancellation) {
  VerificationReport report;
  struct Whole {
    checksums::ChunkDigest source;
    std::optional<partitioner::CopyFormat> format;
    bool mixed_formats = false;
    size_t table = 0;  // one of the tables loading into it, for its column list
    size_t sources = 0;  // source tables loading into it
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
    if (whole.sources == 0 || whole.table != chunk.table) ++whole.sources;
    whole.table = chunk.table;
    if (whole.format && *whole.format != outcome.format) whole.mixed_formats = true;
    whole.format = outcome.format;
  }
  for (const auto& [name, whole] : wholes) {
    if (whole.mixed_formats) {
      spdlog::warn("{}: not verified: its chunks travelled partly in binary, partly as text", name);
      continue;
    }
    const auto& table = plan.tables[whole.table];
    auto format = whole.format.value_or(partitioner::CopyFormat::Binary);
    auto digest = digest_whole_target(target, target_conninfo, jobs, table, format, cancellation);
    ++report.tables_compared;
    if (digest != whole.source) {
      report.mismatches.push_back({"table " + name, std::nullopt,
                                   whole.sources == 1 ? std::optional<size_t>(whole.table) : std::nullopt, whole.source,
                                   digest});
    }
  }
  return report;
}

}  // namespace pgblit::engine
