// See copy_run.hpp.
#include "engine/copy_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
  coordinator_ = std::make_unique<pg::Connection>(open_session(options_.source, "source"));
  target_ = std::make_unique<pg::Connection>(open_session(options_.target, "target"));
  Snapshot snapshot(*coordinator_);
  snapshot_id_ = snapshot.id();
  spdlog::info("source {} (snapshot {}), target {}", coordinator_->display(), snapshot_id_, target_->display());

  if (options_.disable_triggers) require_superuser_for_disable_triggers(*target_);
  plan_ = partitioner::build_plan(*coordinator_, *target_, {options_.selection, options_.disable_triggers, options_.chunk_bytes});
  for (const auto& w : plan_.warnings) spdlog::warn("{}", w);
  for (const auto& t : plan_.tables) {
    if (t.format == partitioner::CopyFormat::Text) spdlog::info("{} goes as text: {}", t.source, t.text_reason);
  }
  if (options_.on_existing != OnExisting::Truncate) {
    auto filled = target_tables_with_rows(*target_, plan_);
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
    truncate_target_tables(*target_, plan_);
    spdlog::info("truncated {} target tables", plan_.target_tables().size());
  }
  spdlog::info("copying {} tables ({} chunks, about {}) with {} jobs", plan_.tables.size(), plan_.chunks.size(),
               human_bytes(static_cast<double>(plan_.estimated_bytes())), options_.jobs);

  TableTally tally(plan_);
  LaneConfig lanes{options_.source, options_.target, snapshot_id_, options_.disable_triggers, options_.verify};
  auto failure = run_copy_graph(plan_, lanes, options_.jobs, cancellation,
                                [&](const ChunkOutcome& outcome) { tally.add(outcome); });
  if (failure) throw *failure;

  CopySummary summary = tally.total();
  if (options_.verify) {
    for (const auto& t : prefilled_) spdlog::warn("{} is not verified: it held rows before this append", t);
    auto report = verify_copied(plan_, tally.outcomes(), prefilled_, *target_, cancellation);
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
  auto sequences = reset_sequences(*coordinator_, *target_, plan_.schemas);
  summary.sequences = sequences.set;
  for (const auto& s : sequences.missing) spdlog::warn("sequence {} does not exist on the target; not set", s);
  if (options_.analyze) {
    auto analyze_started = Clock::now();
    analyze_target_tables(*target_, plan_);
    spdlog::info("analyzed {} target tables in {:.2f} s", plan_.target_tables().size(), seconds_since(analyze_started));
  }
  summary.seconds = seconds_since(started);
  return summary;
}

}  // namespace pgblit::engine
