// See estimate.hpp.
#include "dryrun/estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "dryrun/estimate_probe.hpp"
#include "core/units.hpp"
#include "mover/copy_pump.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

constexpr int64_t kProcessBytes = 32 << 20;  // pgblit itself besides the lanes' blocks

double log_growth(double table_rows, double sample_rows) {
  if (table_rows <= sample_rows || sample_rows < 2) return 1;
  return std::log2(table_rows) / std::log2(sample_rows);
}

void project(Estimate& e, const start::RunSetup& run, const target::Deferral& deferral,
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

void size_resources(Estimate& e, const start::RunSetup& run, const EstimateOptions& options) {
  e.pgblit_memory = kProcessBytes + static_cast<int64_t>(std::max(1, options.jobs)) *
                                        static_cast<int64_t>(mover::kBlocksPerLane * mover::kBlockBytes);
  auto mwm = run.target->exec("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))").int64(0, 0);
  e.server_memory = mwm * std::max(1, options.index_jobs);
  std::vector<std::string> sources;
  int64_t queried = 0;  // a query's result, as the source's planner estimates it
  for (const auto& t : run.plan.tables) {
    if (t.from_query()) {
      queried += t.estimated_bytes;
    } else {
      sources.push_back(t.source);
    }
  }
  e.target_disk = queried + run.coordinator
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

Estimate estimate(start::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options) {
  Estimate e;
  size_resources(e, run, options);
  auto started = Clock::now();
  auto probe = run_probe(run, deferral, options);
  if (!probe.not_measured.empty()) {
    e.not_measured = probe.not_measured;
    return e;
  }
  const auto& samples = probe.samples;
  double lanes = std::max(1, options.jobs);
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
      probe.temporary ? " (temporary: the role may not create tables there, so without WAL: optimistic)" : "",
      seconds_since(started),
      probe.refused > 0 ? fmt::format("; {} sample{} stopped at a row the target refuses (priced like the rest)",
                                      probe.refused, probe.refused == 1 ? "" : "s")
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

}  // namespace pgblit::dryrun
