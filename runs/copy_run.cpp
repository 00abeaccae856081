// See copy_run.hpp. Starting a run (checks, plan, recording it) is in copy_start.cpp; here
// is what execute() does: the chunks through the lanes, the rebuild, the verdict, sequences,
// ANALYZE.
#include "runs/copy_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "core/units.hpp"
#include "runs/copied_rows.hpp"
#include "mover/copy_graph.hpp"
#include "runs/follow_resume.hpp"
#include "runs/follow_run.hpp"
#include "runs/key_map.hpp"
#include "mover/run_catalog.hpp"
#include "target/target_claims.hpp"
#include "pg/retry.hpp"
#include "pg/session.hpp"
#include "target/sequences.hpp"
#include "verify/rescaled_values.hpp"

namespace pgblit::runs {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<bool> done_flags(const std::vector<mover::ChunkRecord>& records) {
  std::vector<bool> done;
  for (const auto& r : records) done.push_back(r.done);
  return done;
}

size_t count_done(const std::vector<mover::ChunkRecord>& records) {
  size_t n = 0;
  for (const auto& r : records) n += r.done;
  return n;
}

// Per-table totals, folded in as chunks finish; logs a line when a table's last chunk is in.
class TableTally {
 public:
  TableTally(const plan::Plan& plan, const std::vector<bool>& done) : plan_(plan), tables_(plan.tables.size()) {
    for (size_t c = 0; c < plan.chunks.size(); ++c) {
      if (!done[c]) ++tables_[plan.chunks[c].table].chunks_left;
    }
  }

  void add(const mover::ChunkOutcome& outcome) {
    if (outcome.error || outcome.skipped) return;
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

 private:
  struct Tally {
    size_t chunks_left = 0;
    int64_t rows = 0;
    int64_t bytes = 0;
    Clock::time_point first_start{};
  };
  const plan::Plan& plan_;
  std::vector<Tally> tables_;
  CopySummary total_;
};

}  // namespace

CopyRun::~CopyRun() = default;

// The coordinator's own target session may have died with a target restart that the lanes
// rode out; it is needed again for the catalog, verification and sequences.
void CopyRun::reconnect_target_if_lost(pg::Cancellation& cancellation) {
  pg::Retry retry(options_.retry_timeout, cancellation);
  for (;;) {
    try {
      run_.target->exec("SELECT 1");
      return;
    } catch (const Error& e) {
      if (!retry.again(e, "the coordinator's target session")) throw;
      try {
        *run_.target = pg::open_session(options_.target, "target");
        mover::RunCatalog(*run_.target, options_.catalog_schema).hold_run(run_id_);
        mover::RunCatalog(*run_.target, options_.catalog_schema).hold_worker(worker_name());
        if (!joining()) target::lock_target_tables(*run_.target, run_.plan.target_tables());
      } catch (const Error& reconnect) {
        if (!reconnect.transient()) throw;
      }
    }
  }
}

// A phase begins: an event, and (the coordinator's) a line in the run's record.
void CopyRun::phase(Events& events, const std::string& name) {
  events.emit("phase", {{"phase", name}});
  if (joining()) return;
  try {
    mover::RunCatalog(*run_.target, options_.catalog_schema).record_phase(run_id_, name);
  } catch (const Error& e) {  // the audit line is not worth failing the run for
    spdlog::warn("phase {} not recorded in the run catalog: {}", name, e.what());
  }
}

CopySummary CopyRun::execute(pg::Cancellation& cancellation, Events& events) {
  auto started = Clock::now();
  struct ReportingServerProgress {  // until execute() ends, however it ends
    target::LockWaitReporter& watch;
    ~ReportingServerProgress() { watch.report_to(nullptr); }
  } reporting{lock_waits_};
  lock_waits_.report_to(&events);
  if (options_.fence && !continued_ && !fence_) fence_source();
  const auto& plan = run_.plan;
  auto records = start_run();
  if (options_.follow && !joining()) {
    if (!continued_) {
      try {
        run_.snapshot_id = start_follow(*run_.coordinator, *run_.target, options_.source, options_.catalog_schema,
                                        run_id_, plan);
      } catch (...) {  // nothing copied yet: what was dropped for the load comes back; unfollow drops the rest
        mover::RunCatalog(*run_.target, options_.catalog_schema).set_run_status(run_id_, "failed");
        report_dropped_objects(cancellation);
        throw;
      }
    } else if (follow_needs_new_slot(*run_.target, options_.catalog_schema, run_id_, records)) {
      // Its slot's snapshot died with the process that read it (follow_resume.hpp).
      if (!options_.spool_dir.empty()) {
        throw usage_error(fmt::format("run {} follows the source and writes a spool: its chunk files hold rows of a "
                                      "snapshot that is gone, so its missing chunks cannot be added consistently",
                                      run_id_),
                          options_.spool_dir, fmt::format("pgblit unfollow {}, then a new copy --follow", run_id_));
      }
      run_.snapshot_id = restart_follow(*run_.coordinator, *run_.target, options_.source, options_.catalog_schema,
                                        run_id_, plan);
      auto reread = reread_changed_rows(options_.source, run_.snapshot_id, *run_.target, options_.catalog_schema,
                                        run_id_, plan, records, prefilled_, cancellation);
      reread_ = reread.tables > 0;
      records = mover::RunCatalog(*run_.target, options_.catalog_schema).chunks(run_id_, plan.chunks.size());
    }  // else every row is as of its slot's snapshot: deferred objects and the verdict are left
  }
  events.emit("run_started", {{"run_id", run_id_},
                              {"tables", plan.tables.size()},
                              {"chunks", plan.chunks.size()},
                              {"chunks_done_before", count_done(records)},
                              {"planned_bytes", plan.estimated_bytes()},
                              {"jobs", options_.jobs},
                              {"joining", joining()},
                              {"catalog_started_at", mover::RunCatalog(*run_.target, options_.catalog_schema).started_at(run_id_)},
                              {"estimate", options_.estimate},
                              {"window_seconds", options_.window_seconds > 0 ? nlohmann::json(options_.window_seconds)
                                                                             : nlohmann::json()},
                              {"audit", audit()}});
  CopySummary summary;
  summary.run_id = run_id_;
  summary.chunks_done_before = count_done(records);
  spdlog::info("run {}: copying {} tables ({} chunks, {} done already, about {}) with {} jobs", run_id_,
               plan.tables.size(), plan.chunks.size(), summary.chunks_done_before,
               human_bytes(static_cast<double>(plan.estimated_bytes())), options_.jobs);
  TableTally tally(plan, done_flags(records));
  std::optional<mover::TableFinisher> finisher;  // the coordinator finishes tables as they complete
  if (!joining() && (options_.verify || options_.analyze)) {
    finisher.emplace(plan, done_flags(records),
                     mover::FinisherOptions{options_.target, options_.jobs, options_.verify, options_.analyze, prefilled_},
                     cancellation);
  }
  // The coordinator rebuilds deferred objects as their tables' last chunks come in.
  std::map<std::string, size_t> chunks_left;  // by target table
  if (!joining()) {
    mover::RunCatalog catalog(*run_.target, options_.catalog_schema);
    rebuild_ = std::make_unique<mover::DeferredRebuild>(catalog, run_id_, plan, options_.target,
                                                 index_jobs(), cancellation, options_.retry_timeout);
    for (const auto& t : plan.target_tables()) chunks_left[t] = 0;
    for (size_t c = 0; c < plan.chunks.size(); ++c) chunks_left[plan.tables[plan.chunks[c].table].target] += !records[c].done;
    for (const auto& [table, left] : chunks_left) {
      if (left == 0) rebuild_->table_loaded(table);
    }
  }
  phase(events, "load");
  try {
    copy_chunks(records, [&](const mover::ChunkOutcome& outcome) {
      tally.add(outcome);
      if (finisher) finisher->chunk_finished(outcome);
      const auto& table = plan.tables[plan.chunks[outcome.chunk].table].target;
      if (rebuild_ && !outcome.error && !outcome.skipped && --chunks_left[table] == 0) rebuild_->table_loaded(table);
      events.emit("chunk_finished", {{"chunk", outcome.chunk},
                                     {"lane", outcome.lane},
                                     {"table", table},
                                     {"rows", outcome.rows},
                                     {"bytes", outcome.bytes},
                                     {"seconds", outcome.seconds},
                                     {"rejected", outcome.rejected},
                                     {"skipped", outcome.skipped},
                                     {"error", outcome.error ? outcome.error->what() : ""}});
    }, cancellation, events);
    auto copied = tally.total();
    summary.tables = copied.tables;
    summary.rows = copied.rows;
    summary.bytes = copied.bytes;
    if (joining()) {
      summary.seconds = seconds_since(started);
      spdlog::info("run {}: no chunk left to claim; the coordinator finishes the run", run_id_);
      return summary;
    }
    summary = finish(summary, finisher ? finisher->wait() : mover::TableFinisher::Results{}, cancellation, events);
  } catch (...) {
    if (!joining()) report_dropped_objects(cancellation);
    throw;
  }
  summary.seconds = seconds_since(started);
  return summary;
}

void CopyRun::report_dropped_objects(const pg::Cancellation& cancellation) noexcept {
  if (rebuild_) rebuild_->stop();  // after what it is building: the run's cancellation is spent
  std::vector<std::string> loaded;
  try {
    const auto& plan = run_.plan;
    auto target = pg::open_session(options_.target, "target");
    auto records = mover::RunCatalog(target, options_.catalog_schema).chunks(run_id_, plan.chunks.size());
    std::map<std::string, size_t> left;
    for (size_t c = 0; c < plan.chunks.size(); ++c) left[plan.tables[plan.chunks[c].table].target] += !records[c].done;
    for (const auto& [table, chunks] : left) {
      if (chunks == 0) loaded.push_back(table);
    }
  } catch (const std::exception&) {  // the target may be what failed: nothing is rebuilt then
  }
  mover::settle_after_failure(options_.target, options_.catalog_schema, run_id_, run_.plan, loaded, index_jobs(),
                       cancellation, options_.retry_timeout);
}

// Every chunk not done, through the lanes, in rounds: chunks held by other workers are
// skipped; once they finish (or their worker dies and releases them) the next round sees
// them done (or takes them over). A joiner leaves when nothing is left to claim.
void CopyRun::copy_chunks(std::vector<mover::ChunkRecord>& records, const std::function<void(const mover::ChunkOutcome&)>& on_outcome,
                          pg::Cancellation& cancellation, Events& events) {
  const auto& plan = run_.plan;
  mover::RunCatalog catalog(*run_.target, options_.catalog_schema);
  mover::RejectSink rejects(options_.rejects_dir, options_.max_rejects);
  mover::LaneConfig lanes{.source = options_.source,
                          .target = options_.target,
                          .snapshot_id = run_.snapshot_id,
                          .disable_triggers = options_.disable_triggers,
                          .catalog_schema = options_.catalog_schema,
                          .run_id = run_id_,
                          .worker = worker_name(),
                          .retry_timeout = options_.retry_timeout,
                          .rejects = &rejects,
                          .verify = options_.verify,
                          .spool_dir = options_.spool_dir,
                          .spool_level = options_.spool_level};
  // Per table: planned as text, or switched to text when the target refused the binary form.
  std::vector<std::atomic<bool>> as_text(plan.tables.size());
  for (size_t t = 0; t < plan.tables.size(); ++t) as_text[t] = plan.tables[t].format == plan::CopyFormat::Text;
  mover::ChunkWork copy_chunk = [&](mover::Lane& lane, size_t c) {
    const auto& chunk = plan.chunks[c];
    const auto& table = plan.tables[chunk.table];
    auto format = as_text[chunk.table] ? plan::CopyFormat::Text : plan::CopyFormat::Binary;
    events.emit("chunk_started", {{"chunk", c},
                                  {"lane", lane.number()},
                                  {"table", table.target},
                                  {"source_table", table.source},
                                  {"estimated_bytes", chunk.estimated_bytes}});
    auto outcome = lane.copy(c, chunk, table, format, options_.verify && table.verify_by_chunk);
    if (outcome.switched_to_text) as_text[chunk.table] = true;
    return outcome;
  };
  for (;;) {
    size_t done_before = count_done(records);
    if (done_before == plan.chunks.size()) return;
    size_t copied = 0;
    auto failure = mover::run_chunk_graph(plan, lanes, options_.jobs, !options_.disable_triggers, done_flags(records),
                                   cancellation, copy_chunk, [&](const mover::ChunkOutcome& outcome) {
                                     on_outcome(outcome);
                                     copied += !outcome.error && !outcome.skipped;
                                   });
    if (failure) {
      try {
        if (!joining()) catalog.set_run_status(run_id_, "failed");
      } catch (const Error&) {  // the target may be what failed; the run stays resumable either way
      }
      spdlog::warn("run {} stopped with {} of {} chunks in; what was in flight was rolled back. Once the cause "
                   "is fixed, continue it with: pgblit copy --resume {}",
                   run_id_, done_before + copied, plan.chunks.size(), run_id_);
      throw *failure;
    }
    reconnect_target_if_lost(cancellation);
    records = catalog.chunks(run_id_, plan.chunks.size());
    if (count_done(records) == plan.chunks.size()) return;
    if (copied == 0) {
      if (joining()) return;  // the rest is in other workers' hands
      for (int i = 0; i < 10 && !cancellation.requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (cancellation.requested()) throw cancellation.error();
    }
  }
}

// The run's verdict: the digests the catalog holds (chunks copied by any worker or earlier
// process), the tables read back while the copy went on, and what is still missing, read now.
verify::Report CopyRun::verify_run(const std::vector<mover::ChunkRecord>& records, const verify::TableDigests& read,
                                   pg::Cancellation& cancellation) {
  const auto& plan = run_.plan;
  verify::Ledger ledger(plan, prefilled_);
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    ledger.add_source_chunk(c, records[c].source_digest, records[c].format);
    if (records[c].target_digest) ledger.set_target_chunk(c, *records[c].target_digest);
  }
  for (const auto& [table, digest] : read) ledger.set_target_table(table, digest);
  load_copied_keys(ledger, *run_.coordinator, *run_.target, cancellation,
                   options_.max_rejects > 0 ? std::filesystem::path(options_.rejects_dir) : std::filesystem::path());
  verify::read_target_side(ledger, *run_.target, options_.target, options_.jobs, cancellation);
  auto report = ledger.compare();
  for (const auto& c : verify::values_changed_by_target(*run_.coordinator, plan)) {
    report.changed_values.push_back(c.describe());
    spdlog::error("differs: {}", c.describe());
  }
  for (const auto& why : report.not_compared) spdlog::warn("not verified: {}", why);
  for (const auto& name : report.copied_rows_only) {
    spdlog::info("{} held rows before the copy: compared on the rows whose keys the copy wrote", name);
  }
  for (const auto& d : report.differences) {
    spdlog::error("differs: {}: source {} rows ({}), target {} rows ({})", d.what, d.source.rows, d.source.to_string(),
                  d.target.rows, d.target.to_string());
  }
  if (!report.ok()) {
    mover::RunCatalog(*run_.target, options_.catalog_schema).set_run_status(run_id_, "failed");
    throw Error(ErrorKind::Verification,
                report.differences.empty()
                    ? fmt::format("verification found values the target changed in {} columns",
                                  report.changed_values.size())
                    : fmt::format("verification found differences in {} of {} chunks and tables",
                                  report.differences.size(), report.chunks_compared + report.tables_compared),
                "", "run `pgblit verify` with the same selection to find the rows that differ");
  }
  spdlog::info("verified: {} chunks and {} whole tables match the source", report.chunks_compared,
               report.tables_compared);
  return report;
}

// The sequences of the columns the run wrote, moved past what they now hold (never back).
int CopyRun::set_sequences() {
  const auto& plan = run_.plan;
  std::map<std::string, std::string> renamed;
  std::vector<std::string> sources;
  std::map<std::string, std::vector<std::string>> columns;  // by target table
  for (const auto& t : plan.tables) {
    // Merged keys live above the target's own: the source's sequence says nothing of them.
    // (A query has no sequences of its own; its target's are found through the target's columns.)
    if (!t.merged() && !t.from_query()) sources.push_back(t.source);
    if (t.source != t.target && !t.from_query()) renamed[t.source] = t.target;
    auto& cols = columns[t.target];
    for (const auto& c : t.columns) {
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
  }
  std::vector<target::WrittenTable> written;
  for (auto& [table, cols] : columns) written.push_back({table, std::move(cols)});
  auto hints = target::source_sequence_hints(*run_.coordinator, sources, renamed);
  auto advanced = target::advance_sequences(*run_.target, written, hints);
  for (const auto& note : advanced.notes) spdlog::warn("sequence {}", note);
  spdlog::info("sequences of the written columns: {} moved forward, {} already past every copied value",
               advanced.set, advanced.already);
  return advanced.set;
}

// After every chunk is done: verify from the catalog's digests (which cover chunks copied by
// any worker or earlier process) and the tables read back while the copy went on, reset
// sequences, analyze what was not analyzed yet, and mark the run done.
CopySummary CopyRun::finish(CopySummary summary, const mover::TableFinisher::Results& finished, pg::Cancellation& cancellation,
                            Events& events) {
  mover::RunCatalog catalog(*run_.target, options_.catalog_schema);
  const auto& plan = run_.plan;
  // The rebuilds first: they may ride out a target restart, after which the coordinator's own
  // session is reopened before anything else uses it.
  if (rebuild_ && rebuild_->pending() > 0) phase(events, "rebuild");
  size_t not_rebuilt = rebuild_ ? rebuild_->finish(*run_.target) : 0;
  reconnect_target_if_lost(cancellation);
  auto records = catalog.chunks(run_id_, plan.chunks.size());
  record_end_state(cancellation);  // every row is in: what `pgblit rollback` compares with
  for (const auto& r : records) summary.rejected += r.rejected;
  summary.rejects_dir = options_.rejects_dir;
  write_spool_manifest(true, records);  // every chunk's file is on disk: the spool is complete
  record_key_map(catalog, run_id_, plan, *run_.coordinator, *run_.target, cancellation);
  // Before the verdict: whatever verification finds, the rows are in, and the application's
  // next insert must not collide with them.
  phase(events, "sequences");
  summary.sequences = set_sequences();
  phase(events, "verify");
  if (options_.verify && continued_ && !reread_ && summary.chunks_done_before == plan.chunks.size() &&
      catalog.verified(run_id_)) {
    // Only deferred objects were left: the rows were verified when the last chunk went in, and
    // rows fixed on the target since (to let a constraint be rebuilt) are the DBA's own change.
    spdlog::info("run {}: its rows were verified before; nothing was copied now, so they are not read again", run_id_);
  } else if (options_.verify) {
    auto report = verify_run(records, finished.read, cancellation);
    summary.chunks_verified = report.chunks_compared;
    summary.tables_verified = report.tables_compared;
    catalog.set_verified(run_id_);
  }
  if (options_.analyze) {
    phase(events, "analyze");
    auto analyze_started = Clock::now();
    size_t at_end = target::analyze_target_tables(*run_.target, plan, finished.analyzed);
    spdlog::info("analyzed {} target tables: {} as they completed, {} at the end ({:.2f} s)",
                 finished.analyzed.size() + at_end, finished.analyzed.size(), at_end, seconds_since(analyze_started));
  }
  if (not_rebuilt > 0) {
    catalog.set_run_status(run_id_, "failed");
    throw Error(ErrorKind::Runtime,
                fmt::format("{} deferred indexes or constraints could not be rebuilt; the data is loaded{}, and they "
                            "stay recorded as pending in {}.objects",
                            not_rebuilt, options_.verify ? " and verified" : "", options_.catalog_schema),
                options_.catalog_schema,
                fmt::format("the errors above say why: where they name offending rows, fix those on the target (or "
                            "the constraint); then pgblit copy --resume {} rebuilds only what is pending",
                            run_id_));
  }
  if (options_.follow) {
    begin_following(*run_.target, options_.subscription_conninfo.empty() ? options_.source : options_.subscription_conninfo,
                    options_.catalog_schema, run_id_);
    catalog.set_run_status(run_id_, "following");
    emit_follow_lag(events, follow_status(*run_.target, options_.catalog_schema, run_id_, options_.source), run_id_);
  } else {
    catalog.set_run_status(run_id_, "done");
  }
  if (fence_) {
    fence_->lift();
  } else if (options_.fence && !joining()) {  // a resumed run lifts the fence its first process left
    target::unfence(options_.source, options_.target, options_.catalog_schema);
  }
  return summary;
}

}  // namespace pgblit::runs
