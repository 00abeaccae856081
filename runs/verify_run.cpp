// See verify_run.hpp.
#include "runs/verify_run.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>

#include "runs/copied_rows.hpp"
#include "mover/copy_graph.hpp"
#include "mover/run_catalog.hpp"
#include "core/worker_pool.hpp"
#include "start/run_setup.hpp"
#include "plan/copy_sql.hpp"
#include "pg/sql.hpp"
#include "verify/rescaled_values.hpp"

namespace pgblit::runs {
namespace {

// Reads both sides at once, two workers of the one pool. A failure on either cancels the
// other; the first is thrown once both have stopped.
void on_both_sides(const std::function<void()>& source_side, const std::function<void()>& target_side,
                   pg::Cancellation& cancellation) {
  run_workers(2, [&](int side) { side == 0 ? source_side() : target_side(); },
              [&](const std::exception_ptr&) { cancellation.request("verification failed"); });
}

// The tables verified chunk by chunk: lanes read each chunk on both sides at once, and bisect
// a chunk that differs down to its rows. Returns those rows, by chunk.
std::vector<std::vector<verify::RowDifference>> compare_chunks(const start::RunSetup& run, const VerifyOptions& options,
                                                               verify::Ledger& ledger, pg::Cancellation& cancellation) {
  const auto& plan = run.plan;
  std::vector<std::vector<verify::RowDifference>> chunk_rows(plan.chunks.size());  // each written by one lane only
  mover::ChunkWork verify_chunk = [&](mover::Lane& lane, size_t c) {
    const auto& chunk = plan.chunks[c];
    const auto& table = plan.tables[chunk.table];
    mover::ChunkOutcome outcome;
    outcome.format = table.format;
    try {
      on_both_sides(
          [&] {
            outcome.source_digest = verify::digest_copy_out(
                lane.source(), plan::copy_out_sql(table, chunk, table.format), table, table.format, cancellation);
          },
          [&] {
            outcome.target_digest = verify::digest_copy_out(
                lane.target(), plan::target_copy_out_sql(table, chunk.predicate, table.format), table,
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
  mover::LaneConfig lanes{.source = options.source, .target = options.target, .snapshot_id = run.snapshot_id};
  auto failure = mover::run_chunk_graph(plan, lanes, options.jobs, false, not_by_chunk, cancellation, verify_chunk,
                                 [&](const mover::ChunkOutcome& o) {
                                   if (o.error) return;
                                   ledger.add_source_chunk(o.chunk, o.source_digest, o.format);
                                   if (o.target_digest) ledger.set_target_chunk(o.chunk, *o.target_digest);
                                 });
  if (failure) throw *failure;
  return chunk_rows;
}

// The tables compared whole: read as page ranges in parallel (sequential scans, cheaper than
// their chunks' key ranges), the source here while a helper reads the target, both at once.
void compare_whole_tables(const start::RunSetup& run, const VerifyOptions& options, verify::Ledger& ledger,
                          pg::Cancellation& cancellation) {
  const auto& plan = run.plan;
  std::vector<size_t> whole;
  std::vector<verify::WholeTable> sources;
  for (size_t t = 0; t < plan.tables.size(); ++t) {
    if (!ledger.summed_per_table(t)) continue;
    whole.push_back(t);
    sources.push_back({&plan.tables[t], plan.tables[t].format});
    ledger.add_source_table(t, {}, plan.tables[t].format);  // the form the target is read in
  }
  load_copied_keys(ledger, *run.coordinator, *run.target, cancellation);
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

struct Compared {
  std::optional<int64_t> run;       // the copy run whose plan is compared
  std::set<std::string> prefilled;  // its target tables that held rows before it
};

// The plan to compare by: a copy run's own (see VerifyOptions::run_id), or a new one.
Compared plan_verification(start::RunSetup& run, const VerifyOptions& options) {
  mover::RunCatalog catalog(*run.target, options.catalog_schema);
  auto run_id = options.run_id;
  if (!run_id && options.mapping) run_id = catalog.run_with_mapping(options.mapping->digest);
  if (!run_id) {
    bool merges = options.mapping && std::any_of(options.mapping->tables.begin(), options.mapping->tables.end(),
                                                 [](const auto& t) { return !t.new_keys.empty(); });
    if (merges) {
      throw usage_error(fmt::format("{} gives rows new keys, chosen when the copy ran, and no run in {} was made with "
                                    "this mapping file",
                                    options.mapping->file, options.catalog_schema),
                        options.mapping->file, "name the copy run that merged with --run RUN_ID");
    }
    run.plan = plan::build_plan(*run.coordinator, *run.target,
                                       {options.selection, false, options.chunk_bytes, false, options.mapping});
    start::log_plan(run.plan);
    return {};
  }
  auto record = catalog.load_run(*run_id);
  if (record.options.value("kind", "") == "restore") {
    throw usage_error(fmt::format("run {} is a restore, not a copy", record.id), options.catalog_schema,
                      "compare a restore with pgblit verify --spool DIR");
  }
  run.plan = plan::plan_from_json(record.plan);
  std::set<std::string> prefilled;
  for (const auto& t : record.options.value("prefilled", nlohmann::json::array())) prefilled.insert(t.get<std::string>());
  spdlog::info("comparing what run {} ({}) copied, by its own plan{}", record.id, record.status,
               prefilled.empty() ? "" : fmt::format("; {} of its tables held rows before it", prefilled.size()));
  return {record.id, prefilled};
}

// A differing row of a merged table is named by its source key too, from the run's key map.
void name_source_keys(pg::Connection& target, const std::string& catalog_schema, int64_t run,
                      const plan::TableCopy& table, std::vector<verify::RowDifference>& rows) {
  std::string key_map = pg::quote_ident(catalog_schema) + ".key_map";
  if (!table.merged() || target.exec_params("SELECT to_regclass($1) IS NULL", {key_map}).boolean(0, 0)) return;
  std::vector<std::string> keys;
  for (const auto& r : rows) keys.push_back(r.key);
  auto found = target.exec_params(  // one read of the map for all the rows
      fmt::format("SELECT new_key, old_key FROM {} WHERE run_id = $1 AND target_table = $2 AND new_key = ANY ($3::text[])",
                  key_map),
      {std::to_string(run), table.target, pg::text_array_literal(keys)}, key_map);
  std::map<std::string, std::string> old_of;
  for (int i = 0; i < found.rows(); ++i) old_of[found.text(i, 0)] = found.text(i, 1);
  for (auto& r : rows) {
    if (auto old = old_of.find(r.key); old != old_of.end()) r.key += " (source key " + old->second + ")";
  }
}

}  // namespace

verify::Report run_verify(const VerifyOptions& options, pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  start::RunSetup run = start::open_sessions(options.source, options.target);
  auto compared = plan_verification(run, options);
  const auto& plan = run.plan;
  spdlog::info("verifying {} tables ({} chunks) with {} jobs", plan.tables.size(), plan.chunks.size(), options.jobs);
  verify::Ledger ledger(plan, compared.prefilled);
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
      d.rows = verify::find_row_differences(*run.coordinator, *run.target, table, plan::Chunk{.table = *d.table},
                                            table.format, budget, cancellation, ledger.copied_rows(table.target));
      if (compared.run) name_source_keys(*run.target, options.catalog_schema, *compared.run, table, d.rows);
    }
    d.rows.resize(std::min(d.rows.size(), budget));
    budget -= d.rows.size();
  }
  for (const auto& c : verify::values_changed_by_target(*run.coordinator, plan)) report.changed_values.push_back(c.describe());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pgblit::runs
