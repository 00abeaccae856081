// See verify_run.hpp.
#include "engine/verify_run.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "engine/copy_graph.hpp"
#include "engine/run_setup.hpp"
#include "partitioner/copy_sql.hpp"

namespace pgblit::engine {
namespace {

// Reads both sides at once: `target_side` on a helper thread, `source_side` here. A failure
// on either cancels the other; the first is thrown once both have stopped.
void on_both_sides(const std::function<void()>& source_side, const std::function<void()>& target_side,
                   pg::Cancellation& cancellation) {
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

// The tables verified chunk by chunk: lanes read each chunk on both sides at once, and bisect
// a chunk that differs down to its rows. Returns those rows, by chunk.
std::vector<std::vector<verify::RowDifference>> compare_chunks(const RunSetup& run, const VerifyOptions& options,
                                                               verify::Ledger& ledger, pg::Cancellation& cancellation) {
  const auto& plan = run.plan;
  std::vector<std::vector<verify::RowDifference>> chunk_rows(plan.chunks.size());  // each written by one lane only
  ChunkWork verify_chunk = [&](Lane& lane, size_t c) {
    const auto& chunk = plan.chunks[c];
    const auto& table = plan.tables[chunk.table];
    ChunkOutcome outcome;
    outcome.format = table.format;
    try {
      on_both_sides(
          [&] {
            outcome.source_digest = verify::digest_copy_out(
                lane.source(), partitioner::copy_out_sql(table, chunk, table.format), table, table.format, cancellation);
          },
          [&] {
            outcome.target_digest = verify::digest_copy_out(
                lane.target(), partitioner::target_copy_out_sql(table, chunk.predicate, table.format), table,
                table.format, cancellation);
          },
          cancellation);
      if (outcome.target_digest && *outcome.target_digest != outcome.source_digest && !table.key.empty()) {
        chunk_rows[c] = verify::find_row_differences(lane.source(), lane.target(), table, chunk, table.format,
                                                     options.max_differences, cancellation);
      }
    } catch (const Error& e) {
      outcome.error = e;
    }
    return outcome;
  };
  std::vector<bool> not_by_chunk(plan.chunks.size());
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    not_by_chunk[c] = ledger.method(plan.chunks[c].table) != verify::Method::ByChunk;
  }
  LaneConfig lanes{options.source, options.target, run.snapshot_id};
  auto failure = run_chunk_graph(plan, lanes, options.jobs, false, not_by_chunk, cancellation, verify_chunk,
                                 [&](const ChunkOutcome& o) {
                                   if (o.error) return;
                                   ledger.add_source_chunk(o.chunk, o.source_digest, o.format);
                                   if (o.target_digest) ledger.set_target_chunk(o.chunk, *o.target_digest);
                                 });
  if (failure) throw *failure;
  return chunk_rows;
}

// The tables compared whole: read as page ranges in parallel (sequential scans, cheaper than
// their chunks' key ranges), the source here while a helper reads the target, both at once.
void compare_whole_tables(const RunSetup& run, const VerifyOptions& options, verify::Ledger& ledger,
                          pg::Cancellation& cancellation) {
  const auto& plan = run.plan;
  std::vector<size_t> whole;
  std::vector<verify::WholeTable> sources;
  for (size_t t = 0; t < plan.tables.size(); ++t) {
    if (ledger.method(t) != verify::Method::Whole) continue;
    whole.push_back(t);
    sources.push_back({&plan.tables[t], plan.tables[t].format});
    ledger.add_source_table(t, {}, plan.tables[t].format);  // the form the target is read in
  }
  std::vector<checksums::ChunkDigest> digests;  // posted once both sides are read: one writer at a time
  on_both_sides(
      [&] {
        digests = verify::digest_whole_tables(*run.coordinator, verify::Side::Source, options.source, run.snapshot_id,
                                              options.jobs, sources, cancellation);
      },
      [&] { verify::read_target_side(ledger, *run.target, options.target, options.jobs, cancellation); },
      cancellation);
  for (size_t i = 0; i < whole.size(); ++i) ledger.add_source_table(whole[i], digests[i], sources[i].format);
}

}  // namespace

verify::Report run_verify(const VerifyOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  RunSetup run = open_run(options.source, options.target,
                          {options.selection, false, options.chunk_bytes, false, options.mapping});
  const auto& plan = run.plan;
  spdlog::info("verifying {} tables ({} chunks) with {} jobs", plan.tables.size(), plan.chunks.size(), options.jobs);
  verify::Ledger ledger(plan);
  auto chunk_rows = compare_chunks(run, options, ledger, cancellation);
  compare_whole_tables(run, options, ledger, cancellation);
  auto report = ledger.compare();
  size_t budget = options.max_differences;
  for (auto& d : report.differences) {
    if (d.chunk) {
      d.rows = std::move(chunk_rows[*d.chunk]);
    } else if (d.table && !plan.tables[*d.table].key.empty() && budget > 0) {
      // Compared whole (the target has no index on the key): bisect over the whole key range.
      const auto& table = plan.tables[*d.table];
      d.rows = verify::find_row_differences(*run.coordinator, *run.target, table, partitioner::Chunk{.table = *d.table},
                                            table.format, budget, cancellation);
    }
    d.rows.resize(std::min(d.rows.size(), budget));
    budget -= d.rows.size();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pgblit::engine
