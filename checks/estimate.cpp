// See estimate.hpp.
#include "checks/estimate.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "core/units.hpp"
#include "engine/copy_pump.hpp"
#include "partitioner/copy_sql.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::checks {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

constexpr size_t kMaxSampledTables = 8;
constexpr int64_t kProcessBytes = 32 << 20;  // pgblit itself besides the lanes' blocks

// One table's measurements, summed over the probes that carried its rows.
struct Sample {
  double heap_bytes = 0;  // of the probes, on disk
  double rows = 0;
  double load_seconds = 0, read_seconds = 0, analyze_seconds = 0;
  double index_seconds = 0;     // all of the table's deferred indexes, built on the probes
  double indexed_bytes = 0;     // heap bytes × indexes built
  double join_seconds = 0;      // an anti-join of the probe with itself, as a foreign key's validation
  double joined_bytes = 0;      // heap bytes on both of its sides
  int probes = 0;
  void add(const Sample& s) {
    heap_bytes += s.heap_bytes, rows += s.rows, load_seconds += s.load_seconds, read_seconds += s.read_seconds;
    analyze_seconds += s.analyze_seconds, index_seconds += s.index_seconds, indexed_bytes += s.indexed_bytes;
    join_seconds += s.join_seconds, joined_bytes += s.joined_bytes;
    probes += s.probes;
  }
};

// What a lane loads: a chunk of a table for a slice of the budget.
struct Slice {
  size_t table = 0;
  size_t chunk = 0;
};

struct Slices {
  std::vector<Slice> planned;
  std::vector<Slice> reserve;  // the next tables' largest chunks, for slices the target refuses
};

// Index definitions rebuilt after loading, by target table.
std::map<std::string, std::vector<std::string>> deferred_indexes(const target::Deferral& deferral) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& o : deferral.objects) {
    if (!o.index_definition.empty()) out[o.table].push_back(o.index_definition);
  }
  return out;
}

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
  Probe(const engine::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options,
        Slices slices, double slice_seconds)
      : run_(run), indexes_(deferred_indexes(deferral)), options_(options), slices_(std::move(slices)),
        slice_seconds_(slice_seconds), lanes_done_(std::max(1, options.jobs)) {}

  // Runs the lanes; the samples by target table, or throws the first lane's failure.
  std::map<std::string, Sample> run() {
    std::vector<std::thread> lanes;
    for (int lane = 0; lane < std::max(1, options_.jobs); ++lane) lanes.emplace_back([this, lane] { lane_main(lane); });
    for (auto& t : lanes) t.join();
    if (failure_) throw *failure_;
    return samples_;
  }

 private:
  struct Loaded {
    std::string probe;
    const partitioner::TableCopy* table;
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
  std::string create_probe(pg::Connection& target, const partitioner::TableCopy& table, int lane, size_t n) {
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
      pg::CopyIn in(target, partitioner::copy_in_sql(probe_table, format), table.target);
      pg::CopyOut out(source, partitioner::copy_out_sql(table, run_.plan.chunks[slice.chunk], format), table.source);
      bool whole = true;
      for (auto row = out.next(); !row.empty(); row = out.next()) {
        in.put(row);
        if (seconds_since(started) > slice_seconds_) {
          whole = false;
          break;
        }
      }
      // Stopped mid-stream: end the binary stream with its trailer (every message is a whole row).
      if (!whole && format == partitioner::CopyFormat::Binary) in.put(std::span<const char>("\xff\xff", 2));
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
    pg::CopyOut back(target, partitioner::target_copy_out_sql(probe_table, "", l.table->format), l.table->target);
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

  const engine::RunSetup& run_;
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
Slices choose_slices(const partitioner::Plan& plan, int jobs) {
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

double log_growth(double table_rows, double sample_rows) {
  if (table_rows <= sample_rows || sample_rows < 2) return 1;
  return std::log2(table_rows) / std::log2(sample_rows);
}

void project(Estimate& e, const engine::RunSetup& run, const target::Deferral& deferral,
             const std::map<std::string, Sample>& samples, const EstimateOptions& options) {
  Sample all;
  for (const auto& [t, s] : samples) all.add(s);
  std::map<std::string, std::pair<double, double>> size_of;  // target table: (bytes, rows)
  for (const auto& t : run.plan.tables) {
    auto& [bytes, rows] = size_of[t.target];
    bytes += static_cast<double>(std::max<int64_t>(t.estimated_bytes, 8192));
    rows += static_cast<double>(std::max<int64_t>(t.estimated_rows, 0));
  }
  auto indexes = deferred_indexes(deferral);
  double per_index_byte = all.indexed_bytes > 0 ? all.index_seconds / all.indexed_bytes : 0;
  for (const auto& [table, size] : size_of) {
    auto [bytes, rows] = size;
    auto it = samples.find(table);
    const Sample& s = it != samples.end() && it->second.heap_bytes > 0 ? it->second : all;
    e.load_seconds += bytes * s.load_seconds / s.heap_bytes;
    if (options.verify) e.verify_seconds += bytes * s.read_seconds / s.heap_bytes;
    if (options.analyze) e.analyze_seconds += s.analyze_seconds / s.probes * std::min(1.0, bytes * s.probes / s.heap_bytes);
    if (auto ix = indexes.find(table); ix != indexes.end()) {
      double growth = log_growth(rows, s.rows / s.probes);
      e.index_seconds += s.indexed_bytes > 0 ? bytes * s.index_seconds / s.heap_bytes * growth
                                             : bytes * per_index_byte * static_cast<double>(ix->second.size()) * growth;
    }
  }
  // Validating a foreign key is an anti-join of child and parent: priced per byte of both sides.
  double join_per_byte = all.joined_bytes > 0 ? all.join_seconds / all.joined_bytes : all.read_seconds / all.heap_bytes;
  for (const auto& o : deferral.objects) {
    if (o.kind != target::ObjectKind::ForeignKey) continue;
    double bytes = (size_of.contains(o.table) ? size_of[o.table].first : 0) +
                   (size_of.contains(o.referenced) ? size_of[o.referenced].first : 0);
    e.foreign_key_seconds += bytes * join_per_byte;
  }
  double lanes = std::max(1, options.jobs);
  double index_lanes = std::min<double>(lanes, std::max(1, options.index_jobs));
  e.load_seconds /= lanes;
  e.verify_seconds /= lanes;
  e.analyze_seconds /= lanes;
  e.index_seconds /= index_lanes;
  e.foreign_key_seconds /= index_lanes;
  e.seconds = e.load_seconds + e.verify_seconds + e.index_seconds + e.foreign_key_seconds + e.analyze_seconds;
  e.low = e.seconds * 0.8;
  e.high = e.seconds * 1.25;
}

void size_resources(Estimate& e, const engine::RunSetup& run, const EstimateOptions& options) {
  e.pgblit_memory = kProcessBytes + static_cast<int64_t>(std::max(1, options.jobs)) *
                                        static_cast<int64_t>(engine::kBlocksPerLane * engine::kBlockBytes);
  auto mwm = run.target->exec("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))").int64(0, 0);
  e.server_memory = mwm * std::max(1, options.index_jobs);
  std::vector<std::string> sources;
  for (const auto& t : run.plan.tables) sources.push_back(t.source);
  e.target_disk = run.coordinator
                      ->exec_params("SELECT COALESCE(sum(pg_table_size(t::regclass) + pg_indexes_size(t::regclass)), 0)"
                                    "::bigint FROM unnest($1::text[]) t",
                                    {pg::text_array_literal(sources)})
                      .int64(0, 0);
  e.disk_note = fmt::format(
      "the target grows by about {} (data and indexes, as on the source; the target database is {} now) plus WAL; "
      "its filesystem's free space is not visible over SQL: check it with df on the server",
      human_bytes(static_cast<double>(e.target_disk)),
      human_bytes(static_cast<double>(run.target->exec("SELECT pg_database_size(current_database())").int64(0, 0))));
}

// Seconds as a person reads an estimate: "42 s", "4 min 10 s", "1 h 05 min".
std::string duration(double seconds) {
  auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return seconds < 10 ? fmt::format("{:.1f} s", std::max(0.0, seconds)) : fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, s / 60 % 60);
}

}  // namespace

Estimate estimate(engine::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options) {
  Estimate e;
  size_resources(e, run, options);
  auto slices = choose_slices(run.plan, options.jobs);
  if (options.budget_seconds <= 0 || slices.planned.empty()) {
    e.not_measured = slices.planned.empty() ? "nothing to copy" : "--estimate-seconds 0";
    return e;
  }
  double lanes = std::max(1, options.jobs);
  double slice_seconds = options.budget_seconds * lanes / static_cast<double>(slices.planned.size());
  auto started = Clock::now();
  Probe probe(run, deferral, options, slices, slice_seconds);
  std::map<std::string, Sample> samples;
  try {
    samples = probe.run();
  } catch (const Error& e2) {
    e.not_measured = fmt::format("the sample load failed: {}", e2.what());
    return e;
  }
  Sample all;
  for (const auto& [t, s] : samples) all.add(s);
  if (all.heap_bytes <= 0) {
    e.not_measured = "the target refused a row of every sampled table, or they were empty (see the findings)";
    return e;
  }
  project(e, run, deferral, samples, options);
  e.measured = true;
  e.basis = fmt::format(
      "{} of {} table{} ({} rows, {}) loaded {} lane{} at a time into rolled-back probe tables{} in {:.1f} s, "
      "then indexed, read back and analyzed{}",
      samples.size(), run.plan.tables.size(), run.plan.tables.size() == 1 ? "" : "s", static_cast<int64_t>(all.rows),
      human_bytes(all.heap_bytes), lanes, lanes == 1 ? "" : "s",
      probe.temporary_ ? " (temporary: the role may not create tables there, so without WAL: optimistic)" : "",
      seconds_since(started),
      probe.refused_ > 0 ? fmt::format("; {} sample{} stopped at a row the target refuses (priced like the rest)",
                                       probe.refused_.load(), probe.refused_ == 1 ? "" : "s")
                         : "");
  if (options.keep_indexes) {
    e.basis += "; with --indexes keep, foreign keys are checked row by row while loading, which the probes (without "
               "foreign keys) do not price: expect longer where tables have them";
  }
  return e;
}

nlohmann::json to_json(const Estimate& e) {
  nlohmann::json j = {{"measured", e.measured},
                      {"pgblit_memory_bytes", e.pgblit_memory},
                      {"server_memory_bytes", e.server_memory},
                      {"target_disk_bytes", e.target_disk},
                      {"disk_note", e.disk_note}};
  if (!e.measured) {
    j["not_measured"] = e.not_measured;
    return j;
  }
  j.update({{"seconds", e.seconds}, {"low_seconds", e.low}, {"high_seconds", e.high}, {"basis", e.basis},
            {"phases",
             {{"load", e.load_seconds}, {"verify", e.verify_seconds}, {"indexes", e.index_seconds},
              {"foreign_keys", e.foreign_key_seconds}, {"analyze", e.analyze_seconds}}}});
  return j;
}

std::vector<std::string> describe(const Estimate& e) {
  std::vector<std::string> lines;
  if (e.measured) {
    lines.push_back(fmt::format("about {} ({} to {}): loading {}, verifying {}, indexes {}, foreign keys {}, ANALYZE {}",
                                duration(e.seconds), duration(e.low), duration(e.high), duration(e.load_seconds),
                                duration(e.verify_seconds), duration(e.index_seconds),
                                duration(e.foreign_key_seconds), duration(e.analyze_seconds)));
    lines.push_back("basis: " + e.basis);
  } else {
    lines.push_back("duration not measured: " + e.not_measured);
  }
  lines.push_back(fmt::format("memory: pgblit about {}; the target's index builds up to {} (maintenance_work_mem × index jobs)",
                              human_bytes(static_cast<double>(e.pgblit_memory)),
                              human_bytes(static_cast<double>(e.server_memory))));
  lines.push_back("disk: " + e.disk_note);
  return lines;
}

}  // namespace pgblit::checks
