// See estimate_probe.hpp.
#include "dryrun/estimate_probe.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <mutex>
#include <optional>

#include "core/worker_pool.hpp"
#include "mover/copy_pump.hpp"
#include "plan/copy_sql.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

constexpr size_t kMaxSampledTables = 8;

// What a lane loads: a chunk of a table for a slice of the budget.
struct Slice {
  size_t table = 0;
  size_t chunk = 0;
};

struct Slices {
  std::vector<Slice> planned;
  std::vector<Slice> reserve;  // the next tables' largest chunks, for slices the target refuses
};

// `CREATE [UNIQUE] INDEX name ON table USING ...` rewritten to build the same index on `probe`.
// pg_get_indexdef prints " USING " right after the table's name.
std::string index_on(const std::string& definition, const std::string& probe) {
  auto on = definition.find(" ON ");
  auto using_at = on == std::string::npos ? on : definition.find(" USING ", on);
  if (using_at == std::string::npos) return {};
  bool unique = definition.starts_with("CREATE UNIQUE");
  return fmt::format("CREATE {}INDEX ON {}{}", unique ? "UNIQUE " : "", probe, definition.substr(using_at));
}

class Probe {
 public:
  Probe(const start::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options,
        Slices slices, double slice_seconds)
      : run_(run), indexes_(deferred_indexes(deferral)), options_(options), slices_(std::move(slices)),
        slice_seconds_(slice_seconds), lanes_done_(std::max(1, options.jobs)) {}

  // Runs the lanes; the samples by target table, or throws the first lane's failure.
  std::map<std::string, Sample> run() {
    run_workers(options_.jobs, [this](int lane) { lane_main(lane); });  // each lane keeps its own failure
    if (failure_) throw *failure_;
    return samples_;
  }

 private:
  struct Loaded {
    std::string probe;
    const plan::TableCopy* table;
    Sample sample;
  };

  void lane_main(int lane) {
    bool waiting = true;  // still owes the barrier between loading and the rest
    try {
      auto source = pg::open_session(options_.source, "source");
      pg::join_snapshot(source, run_.snapshot_id);
      auto target = pg::open_session(options_.target, "target");
      target.exec("BEGIN");
      std::vector<Loaded> loaded;
      size_t probes = 0;  // names this lane's probe tables
      for (size_t i = next_++; i < slices_.planned.size(); i = next_++) {
        auto l = load(source, target, lane, probes++, slices_.planned[i]);
        for (size_t r = l ? SIZE_MAX : next_reserve_++; r < slices_.reserve.size(); r = l ? SIZE_MAX : next_reserve_++) {
          l = load(source, target, lane, probes++, slices_.reserve[r]);
        }
        if (l) loaded.push_back(std::move(*l));
      }
      waiting = false;
      lanes_done_.arrive_and_wait();  // what follows a load is timed with every lane at it, as in a run
      for (auto& l : loaded) after_load(target, l);
      target.exec("ROLLBACK");
      std::lock_guard lock(mutex_);
      for (const auto& l : loaded) samples_[l.table->target].add(l.sample);
    } catch (const Error& e) {
      if (waiting) lanes_done_.arrive_and_drop();
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = e;
    }
  }

  // A probe table like the target's (with its indexes when the copy keeps them), created in
  // the lane's transaction, in the target's schema so its rows are written as the copy's will
  // be; a role without CREATE there gets a temporary table (no WAL: faster than the real thing).
  // Its NOT NULLs are dropped (with no index to keep them) so rows the findings count as NULLs
  // under NOT NULL do not end the sample.
  std::string create_probe(pg::Connection& target, const plan::TableCopy& table, int lane, size_t n) {
    bool with_indexes = !indexes_.contains(table.target);
    std::string like = fmt::format("(LIKE {} INCLUDING DEFAULTS{})", table.target, with_indexes ? " INCLUDING INDEXES" : "");
    auto schema = table.target.substr(0, table.target.find("\".\"") + 1);
    auto name = pg::quote_ident(fmt::format("pgblit_probe_{}_{}", lane, n));
    target.exec("SAVEPOINT probe");
    try {
      target.exec(fmt::format("CREATE TABLE {}.{} {}", schema, name, like), table.target);
      name = schema + "." + name;
    } catch (const Error&) {
      target.exec("ROLLBACK TO SAVEPOINT probe");
      temporary_ = true;
      target.exec(fmt::format("CREATE TEMPORARY TABLE {} {}", name, like), table.target);
      name = "pg_temp." + name;
    }
    if (!with_indexes && !table.columns.empty()) {
      std::vector<std::string> nullable;
      for (const auto& c : table.columns) nullable.push_back("ALTER " + pg::quote_ident(c) + " DROP NOT NULL");
      target.exec(fmt::format("ALTER TABLE {} {}", name, fmt::join(nullable, ", ")), table.target);
    }
    return name;
  }

  // Loads the slice's chunk into a new probe for at most the slice's time. A row the target
  // refuses ends that slice unmeasured (the dry run's findings count such rows).
  std::optional<Loaded> load(pg::Connection& source, pg::Connection& target, int lane, size_t n, const Slice& slice) {
    const auto& table = run_.plan.tables[slice.table];
    Loaded l{create_probe(target, table, lane, n), &table, {}};
    auto probe_table = table;
    probe_table.target = l.probe;
    auto format = table.format;
    target.exec("SAVEPOINT slice");
    auto started = Clock::now();
    bool refused = false;
    try {
      pg::CopyIn in(target, plan::copy_in_sql(probe_table, format), table.target);
      pg::CopyOut out(source, plan::copy_out_sql(table, run_.plan.chunks[slice.chunk], format), table.source);
      bool whole = true;
      for (auto row = out.next(); !row.empty(); row = out.next()) {
        in.put(row);
        if (seconds_since(started) > slice_seconds_) {
          whole = false;
          break;
        }
      }
      // Stopped mid-stream: end the binary stream with its trailer (every message is a whole row).
      if (!whole && format == plan::CopyFormat::Binary) in.put(std::span<const char>("\xff\xff", 2));
      if (whole) {
        if (auto end = out.end(); end.error) throw *end.error;
      }
      auto loaded = in.end();
      if (loaded.error) throw *loaded.error;
      l.sample.rows = static_cast<double>(loaded.rows);
    } catch (const Error& e) {
      spdlog::debug("estimate: a sample load of {} stopped: {} ({})", table.target, e.what(), e.sqlstate());
      if (!e.rejects_row()) throw;
      target.exec("ROLLBACK TO SAVEPOINT slice");
      ++refused_;
      refused = true;
    }
    // A COPY abandoned mid-stream (cancelled) aborts the source's transaction: back into the snapshot.
    pg::rollback_quietly(source);
    pg::join_snapshot(source, run_.snapshot_id);
    if (refused) return std::nullopt;
    l.sample.load_seconds = seconds_since(started);
    l.sample.heap_bytes = static_cast<double>(
        target.exec_params("SELECT pg_table_size($1::regclass)", {l.probe}, table.target).int64(0, 0));
    l.sample.probes = 1;
    return l;
  }

  // Times the work a loaded table gets next: its deferred indexes, the read-back, ANALYZE.
  void after_load(pg::Connection& target, Loaded& l) {
    auto& s = l.sample;
    if (auto it = indexes_.find(l.table->target); it != indexes_.end()) {
      for (const auto& definition : it->second) {
        auto sql = index_on(definition, l.probe);
        if (sql.empty()) continue;
        auto started = Clock::now();
        target.exec("SAVEPOINT ix");
        try {
          target.exec(sql, l.table->target);
          s.index_seconds += seconds_since(started);
          s.indexed_bytes += s.heap_bytes;
        } catch (const Error& e) {  // duplicates in a sample: that index is not priced from it
          target.exec("ROLLBACK TO SAVEPOINT ix");
          spdlog::debug("estimate: could not build {} on a sample: {}", definition, e.what());
        }
      }
    }
    auto probe_table = *l.table;
    probe_table.target = l.probe;
    probe_table.target_partitioned = false;
    auto started = Clock::now();
    pg::CopyOut back(target, plan::target_copy_out_sql(probe_table, "", l.table->format), l.table->target);
    while (!back.next().empty()) {
    }
    if (auto end = back.end(); end.error) throw *end.error;
    s.read_seconds = seconds_since(started);
    started = Clock::now();
    target.exec("ANALYZE " + l.probe, l.table->target);
    s.analyze_seconds = seconds_since(started);
    // VALIDATE CONSTRAINT runs an anti-join of child and parent: timed here on the probe's first
    // column against itself (a type without equality is skipped).
    if (l.table->columns.empty()) return;
    auto column = pg::quote_ident(l.table->columns.front());
    target.exec("SAVEPOINT antijoin");
    started = Clock::now();
    try {
      target.exec(fmt::format("SELECT count(*) FROM {0} c WHERE c.{1} IS NOT NULL AND NOT EXISTS "
                              "(SELECT 1 FROM {0} p WHERE p.{1} = c.{1})",
                              l.probe, column),
                  l.table->target);
      s.join_seconds = seconds_since(started);
      s.joined_bytes = 2 * s.heap_bytes;
    } catch (const Error&) {
      target.exec("ROLLBACK TO SAVEPOINT antijoin");
    }
  }

  const start::RunSetup& run_;
  std::map<std::string, std::vector<std::string>> indexes_;
  const EstimateOptions& options_;
  Slices slices_;
  double slice_seconds_;
  std::atomic<size_t> next_{0}, next_reserve_{0};
  std::barrier<> lanes_done_;
  std::mutex mutex_;
  std::map<std::string, Sample> samples_;
  std::optional<Error> failure_;

 public:
  std::atomic<bool> temporary_{false};  // some probe was a temporary table
  std::atomic<int> refused_{0};         // slices the target refused a row of
};

// The largest tables, covering 90% of the bytes (at most kMaxSampledTables), each a slice at a
// time, with at least one slice per lane so every lane is busy for the whole budget.
Slices choose_slices(const plan::Plan& plan, int jobs) {
  std::vector<size_t> order(plan.tables.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan.tables[a].estimated_bytes > plan.tables[b].estimated_bytes; });
  std::vector<size_t> sampled;
  int64_t covered = 0;
  for (size_t t : order) {
    if (sampled.size() == kMaxSampledTables || (!sampled.empty() && covered >= plan.estimated_bytes() * 9 / 10)) break;
    sampled.push_back(t);
    covered += plan.tables[t].estimated_bytes;
  }
  std::map<size_t, std::vector<size_t>> chunks;  // by table, largest first
  for (size_t c = 0; c < plan.chunks.size(); ++c) chunks[plan.chunks[c].table].push_back(c);
  for (auto& [t, list] : chunks) {
    std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return plan.chunks[a].estimated_bytes > plan.chunks[b].estimated_bytes;
    });
  }
  std::erase_if(sampled, [&](size_t t) { return !chunks.contains(t); });
  if (sampled.empty()) return {};
  size_t lanes = static_cast<size_t>(std::max(1, jobs));
  size_t n = (std::max(sampled.size(), lanes) + lanes - 1) / lanes * lanes;
  Slices slices;
  for (size_t i = 0; i < n; ++i) {
    size_t t = sampled[i % sampled.size()];
    const auto& list = chunks[t];
    slices.planned.push_back({t, list[(i / sampled.size()) % list.size()]});
  }
  for (size_t t : order) {
    if (slices.reserve.size() == kMaxSampledTables) break;
    if (chunks.contains(t) && std::find(sampled.begin(), sampled.end(), t) == sampled.end()) {
      slices.reserve.push_back({t, chunks[t].front()});
    }
  }
  return slices;
}

}  // namespace

void Sample::add(const Sample& s) {
  heap_bytes += s.heap_bytes, rows += s.rows, load_seconds += s.load_seconds, read_seconds += s.read_seconds;
  analyze_seconds += s.analyze_seconds, index_seconds += s.index_seconds, indexed_bytes += s.indexed_bytes;
  join_seconds += s.join_seconds, joined_bytes += s.joined_bytes;
  probes += s.probes;
}

std::map<std::string, std::vector<std::string>> deferred_indexes(const target::Deferral& deferral) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& o : deferral.objects) {
    if (!o.index_definition.empty()) out[o.table].push_back(o.index_definition);
  }
  return out;
}

ProbeResult run_probe(const start::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options) {
  ProbeResult result;
  auto slices = choose_slices(run.plan, options.jobs);
  if (options.budget_seconds <= 0 || slices.planned.empty()) {
    result.not_measured = slices.planned.empty() ? "nothing to copy" : "--estimate-seconds 0";
    return result;
  }
  double slice_seconds = options.budget_seconds * std::max(1, options.jobs) / static_cast<double>(slices.planned.size());
  Probe probe(run, deferral, options, slices, slice_seconds);
  try {
    result.samples = probe.run();
  } catch (const Error& e) {
    result.not_measured = fmt::format("the sample load failed: {}", e.what());
  }
  result.temporary = probe.temporary_;
  result.refused = probe.refused_;
  return result;
}

}  // namespace pgblit::dryrun
