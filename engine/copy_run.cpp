// See copy_run.hpp.
#include "engine/copy_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "core/units.hpp"
#include "engine/copy_graph.hpp"
#include "engine/sequences.hpp"
#include "engine/session.hpp"
#include "engine/verification.hpp"

namespace pgblit::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Per-table totals, folded in as chunks finish; logs a line when a table's last chunk is in.
class TableTally {
 public:
  explicit TableTally(const partitioner::Plan& plan)
      : plan_(plan), tables_(plan.tables.size()), outcomes_(plan.chunks.size()) {
    for (const auto& c : plan.chunks) ++tables_[c.table].chunks_left;
  }

  void add(const ChunkOutcome& outcome) {
    if (outcome.error) return;
    outcomes_[outcome.chunk] = outcome;
    size_t t = plan_.chunks[outcome.chunk].table;
    auto& tally = tables_[t];
    auto now = Clock::now();
    auto started = now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(outcome.seconds));
    if (tally.first_start == Clock::time_point{} || started < tally.first_start) tally.first_start = started;
    tally.rows += outcome.rows;
    tally.bytes += outcome.bytes;
    total_.rows += outcome.rows;
    total_.bytes += outcome.bytes;
    if (--tally.chunks_left == 0) {
      double secs = std::chrono::duration<double>(now - tally.first_start).count();
      const auto& table = plan_.tables[t];
      spdlog::info("copied {}{}: {} rows, {} in {:.2f} s ({})", table.source,
                   table.source == table.target ? "" : " into " + table.target, tally.rows, human_bytes(tally.bytes),
                   secs, human_rate(tally.bytes, secs));
      ++total_.tables;
    }
  }
  const CopySummary& total() const { return total_; }
  const std::vector<ChunkOutcome>& outcomes() const { return outcomes_; }

 private:
  struct Tally {
    size_t chunks_left = 0;
    int64_t rows = 0;
    int64_t bytes = 0;
    Clock::time_point first_start{};
  };
  const partitioner::Plan& plan_;
  std::vector<Tally> tables_;
  std::vector<ChunkOutcome> outcomes_;  // by chunk
  CopySummary total_;
};

}  // namespace

CopyRun::CopyRun(CopyOptions options) : options_(std::move(options)) {
  run_ = open_run(options_.source, options_.target,
                  {options_.selection, options_.disable_triggers, options_.chunk_bytes});
  if (options_.disable_triggers) require_superuser_for_disable_triggers(*run_.target);
  if (options_.on_existing != OnExisting::Truncate) {
    auto filled = target_tables_with_rows(*run_.target, run_.plan);
    prefilled_.insert(filled.begin(), filled.end());
    if (!filled.empty() && options_.on_existing == OnExisting::Error) {
      throw usage_error(fmt::format("target tables already hold rows: {}", fmt::join(filled, ", ")), filled[0],
                        "empty them, or choose --on-existing truncate (empties them first) or append");
    }
  }
}

CopyRun::~CopyRun() = default;

CopySummary CopyRun::execute(Cancellation& cancellation) {
  auto started = Clock::now();
  if (options_.on_existing == OnExisting::Truncate) {
    truncate_target_tables(*run_.target, run_.plan);
    spdlog::info("truncated {} target tables", run_.plan.target_tables().size());
  }
  spdlog::info("copying {} tables ({} chunks, about {}) with {} jobs", run_.plan.tables.size(), run_.plan.chunks.size(),
               human_bytes(static_cast<double>(run_.plan.estimated_bytes())), options_.jobs);

  TableTally tally(run_.plan);
  LaneConfig lanes{options_.source, options_.target, run_.snapshot_id, options_.disable_triggers};
  // Per table: planned as text, or switched to text when the target refused the binary form.
  std::vector<std::atomic<bool>> as_text(run_.plan.tables.size());
  for (size_t t = 0; t < run_.plan.tables.size(); ++t) as_text[t] = run_.plan.tables[t].format == partitioner::CopyFormat::Text;
  ChunkWork copy_chunk = [&](Lane& lane, size_t c) {
    const auto& chunk = run_.plan.chunks[c];
    const auto& table = run_.plan.tables[chunk.table];
    auto format = as_text[chunk.table] ? partitioner::CopyFormat::Text : partitioner::CopyFormat::Binary;
    auto outcome = lane.copy(chunk, table, format, options_.verify && table.verify_by_chunk);
    if (outcome.switched_to_text) as_text[chunk.table] = true;
    return outcome;
  };
  auto failure = run_chunk_graph(run_.plan, lanes, options_.jobs, true, cancellation, copy_chunk,
                                 [&](const ChunkOutcome& outcome) { tally.add(outcome); });
  if (failure) throw *failure;

  CopySummary summary = tally.total();
  if (options_.verify) {
    for (const auto& t : prefilled_) spdlog::warn("{} is not verified: it held rows before this append", t);
    auto report = verify_copied(run_.plan, tally.outcomes(), prefilled_, *run_.target, cancellation);
    summary.chunks_verified = report.chunks_compared;
    summary.tables_verified = report.tables_compared;
    for (const auto& m : report.mismatches) {
      spdlog::error("differs: {}: source {} rows ({}), target {} rows ({})", m.what, m.source.rows, m.source.to_string(),
                    m.target.rows, m.target.to_string());
    }
    if (!report.mismatches.empty()) {
      throw Error(ErrorKind::Verification,
                  fmt::format("verification found differences in {} of {} chunks and tables", report.mismatches.size(),
                              report.chunks_compared + report.tables_compared),
                  "", "run `pgblit verify` with the same selection to find the rows that differ");
    }
    spdlog::info("verified: {} chunks and {} whole tables match the source", report.chunks_compared,
                 report.tables_compared);
  }
  auto sequences = reset_sequences(*run_.coordinator, *run_.target, run_.plan.schemas);
  summary.sequences = sequences.set;
  for (const auto& s : sequences.missing) spdlog::warn("sequence {} does not exist on the target; not set", s);
  if (options_.analyze) {
    auto analyze_started = Clock::now();
    analyze_target_tables(*run_.target, run_.plan);
    spdlog::info("analyzed {} target tables in {:.2f} s", run_.plan.target_tables().size(), seconds_since(analyze_started));
  }
  summary.seconds = seconds_since(started);
  return summary;
}

}  // namespace pgblit::engine
