// See verify_run.hpp.
#include "engine/verify_run.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "engine/copy_digest.hpp"
#include "engine/copy_sql.hpp"
#include "engine/copy_graph.hpp"
#include "engine/run_setup.hpp"

namespace pgblit::engine {
namespace {

// Reads both sides at once: `target_side` on a helper thread, `source_side` here. A failure
// on either cancels the other; the first is thrown once both have stopped.
void on_both_sides(const std::function<void()>& source_side, const std::function<void()>& target_side,
                   Cancellation& cancellation) {
  std::exception_ptr target_failure;
  std::thread target_reader([&] {
    try {
      target_side();
    } catch (...) {
      target_failure = std::current_exception();
      cancellation.request("verification failed");
    }
  });
  try {
    source_side();
  } catch (...) {
    cancellation.request("verification failed");
    target_reader.join();
    throw;
  }
  target_reader.join();
  if (target_failure) std::rethrow_exception(target_failure);
}

}  // namespace

VerifyReport run_verify(const VerifyOptions& options, Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  RunSetup run = open_run(options.source, options.target, {options.selection, false, options.chunk_bytes});
  const auto& plan = run.plan;
  spdlog::info("verifying {} tables ({} chunks) with {} jobs", plan.tables.size(), plan.chunks.size(), options.jobs);

  std::vector<ChunkOutcome> outcomes(plan.chunks.size());
  std::vector<std::vector<RowDifference>> chunk_rows(plan.chunks.size());  // each written by one lane only
  ChunkWork verify_chunk = [&](Lane& lane, size_t c) {
    const auto& chunk = plan.chunks[c];
    const auto& table = plan.tables[chunk.table];
    ChunkOutcome outcome;
    outcome.format = table.format;
    try {
      on_both_sides(
          [&] {
            outcome.source_digest = digest_copy_out(lane.source(), copy_out_sql(table, chunk, table.format), table,
                                                    table.format, cancellation);
          },
          [&] {
            outcome.target_digest = digest_copy_out(
                lane.target(), target_copy_out_sql(table, chunk.predicate, table.format), table, table.format,
                cancellation);
          },
          cancellation);
      if (outcome.target_digest && *outcome.target_digest != outcome.source_digest && !table.key.empty()) {
        chunk_rows[c] = find_row_differences(lane.source(), lane.target(), table, chunk, table.format,
                                             options.max_differences, cancellation);
      }
    } catch (const Error& e) {
      outcome.error = e;
    }
    return outcome;
  };
  // Lanes compare the tables verified chunk by chunk; the others are compared whole below.
  std::vector<bool> compared_whole(plan.chunks.size());
  for (size_t c = 0; c < plan.chunks.size(); ++c) compared_whole[c] = !plan.tables[plan.chunks[c].table].verify_by_chunk;
  LaneConfig lanes{options.source, options.target, run.snapshot_id};
  auto failure = run_chunk_graph(plan, lanes, options.jobs, false, compared_whole, cancellation, verify_chunk,
                                 [&](const ChunkOutcome& o) {
                                   if (!o.error) outcomes[o.chunk] = o;
                                 });
  if (failure) throw *failure;
  // A table compared whole is read as ctid ranges in parallel (sequential scans, cheaper than
  // its chunks' key ranges), the source here while a helper reads the target: both at once.
  // The source digest stands in the table's first chunk's outcome.
  std::vector<size_t> firsts;
  std::vector<bool> table_seen(plan.tables.size());
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    if (!compared_whole[c]) continue;
    size_t t = plan.chunks[c].table;
    outcomes[c].format = plan.tables[t].format;
    if (!table_seen[t]) firsts.push_back(c);
    table_seen[t] = true;
  }
  std::vector<WholeTable> sources;
  std::vector<WholeTable> targets;
  std::vector<std::string> target_names;
  for (size_t c : firsts) {
    const auto& table = plan.tables[plan.chunks[c].table];
    sources.push_back({&table, table.format});
    if (std::find(target_names.begin(), target_names.end(), table.target) != target_names.end()) continue;
    target_names.push_back(table.target);  // several source tables may load into it
    targets.push_back({&table, table.format});
  }
  TableDigests target_read;
  on_both_sides(
      [&] {
        auto digests = digest_whole_tables(*run.coordinator, Side::Source, options.source, run.snapshot_id,
                                           options.jobs, sources, cancellation);
        for (size_t i = 0; i < firsts.size(); ++i) outcomes[firsts[i]].source_digest = digests[i];
      },
      [&] {
        auto digests =
            digest_whole_tables(*run.target, Side::Target, options.target, "", options.jobs, targets, cancellation);
        for (size_t i = 0; i < targets.size(); ++i) target_read[target_names[i]] = {targets[i].format, digests[i]};
      },
      cancellation);

  auto compared =
      verify_copied(plan, outcomes, {}, target_read, *run.target, options.target, options.jobs, cancellation);
  VerifyReport report;
  report.chunks_compared = compared.chunks_compared;
  report.tables_compared = compared.tables_compared;
  size_t budget = options.max_differences;
  for (auto& m : compared.mismatches) {
    std::vector<RowDifference> rows;
    if (m.chunk) {
      rows = chunk_rows[*m.chunk];
    } else if (m.table && !plan.tables[*m.table].key.empty() && budget > 0) {
      // Compared whole (the target has no index on the key): bisect over the whole key range.
      const auto& table = plan.tables[*m.table];
      rows = find_row_differences(*run.coordinator, *run.target, table, partitioner::Chunk{.table = *m.table}, table.format,
                                  budget, cancellation);
    }
    rows.resize(std::min(rows.size(), budget));
    budget -= rows.size();
    report.rows.push_back(std::move(rows));
    report.mismatches.push_back(std::move(m));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

nlohmann::json to_json(const VerifyReport& report) {
  nlohmann::json differences = nlohmann::json::array();
  for (size_t i = 0; i < report.mismatches.size(); ++i) {
    const auto& m = report.mismatches[i];
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : report.rows[i]) rows.push_back({{"kind", to_string(r.kind)}, {"key", r.key}});
    differences.push_back({{"what", m.what},
                           {"source", {{"rows", m.source.rows}, {"digest", m.source.to_string()}}},
                           {"target", {{"rows", m.target.rows}, {"digest", m.target.to_string()}}},
                           {"rows", rows}});
  }
  return {{"ok", report.ok()},
          {"chunks_compared", report.chunks_compared},
          {"tables_compared", report.tables_compared},
          {"seconds", report.seconds},
          {"differences", differences}};
}

}  // namespace pgblit::engine
