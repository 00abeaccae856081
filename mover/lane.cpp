// See lane.hpp.
#include "mover/lane.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "spool/manifest.hpp"
#include "verify/copy_digest.hpp"
#include "plan/copy_sql.hpp"
#include "mover/run_catalog.hpp"
#include "core/test_moment.hpp"
#include "source/unmappable_rows.hpp"
#include "pg/retry.hpp"
#include "pg/session.hpp"

namespace pgblit::mover {
namespace {

using plan::CopyFormat;

}  // namespace

Lane::Lane(const LaneConfig& config, pg::Cancellation& cancellation, int number)
    : config_(config), cancellation_(cancellation), number_(number), source_(pg::open_session(config.source, "source")),
      target_(pg::open_session(config.target, "target")) {
  connect();
}

// (Re)establishes both sessions: a lost one is reopened, a live one leaves whatever
// transaction a failure left it in; the source then starts anew in the run's snapshot.
void Lane::connect() {
  auto ready = [](pg::Connection& conn, const std::string& conninfo, const char* role) {
    if (!conn.alive()) {
      conn = pg::open_session(conninfo, role);
    } else if (conn.in_transaction()) {
      pg::rollback_quietly(conn);
    }
  };
  ready(source_, config_.source, "source");
  ready(target_, config_.target, "target");
  try {
    pg::join_snapshot(source_, config_.snapshot_id);
  } catch (const Error& e) {
    if (e.transient()) throw;
    throw Error(ErrorKind::Runtime, std::string("cannot read in the run's snapshot: ") + e.what(), source_.display(),
                "the session that held it is gone (source restarted, or the coordinator stopped); "
                "continue with pgblit copy --resume",
                e.sqlstate());
  }
  if (config_.disable_triggers) target_.exec("SET session_replication_role TO replica", "--disable-triggers");
}

ChunkOutcome Lane::copy(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                        CopyFormat format, bool read_back) {
  ChunkOutcome outcome;
  pg::Retry retry(config_.retry_timeout, cancellation_);
  show_busy(chunk_index);
  for (;;) {
    try {
      copy_with_text_fallback(chunk_index, chunk, table, format, read_back, outcome);
      break;
    } catch (const Error& e) {
      if (!retry.again(e, table.source)) {
        outcome.error = e;
        break;
      }
      try {
        connect();
      } catch (const Error& reconnect_failure) {
        if (!reconnect_failure.transient()) {
          outcome.error = reconnect_failure;
          break;
        }
      }
    } catch (const std::exception& e) {
      outcome.error = Error(ErrorKind::Runtime, e.what(), table.source);
      break;
    }
  }
  if (outcome.error && config_.run_id && target_.alive()) {
    try {
      RunCatalog(target_, config_.catalog_schema)
          .record_failure(config_.run_id, chunk_index, outcome.error->what(), config_.worker);
    } catch (const Error&) {  // the failure itself is what gets reported
    }
  }
  show_busy(std::nullopt);
  outcome.seconds = retry.elapsed();
  return outcome;
}

// For `pgblit status`: a courtesy, never a reason to fail a chunk.
void Lane::show_busy(std::optional<size_t> chunk) {
  if (!config_.run_id || !target_.alive()) return;
  try {
    RunCatalog(target_, config_.catalog_schema).lane_busy(config_.run_id, config_.worker, number_, chunk);
  } catch (const Error& e) {
    spdlog::debug("lane {}: status not recorded: {}", number_, e.what());
  }
}

void Lane::copy_with_text_fallback(size_t chunk_index, const plan::Chunk& chunk,
                                   const plan::TableCopy& table, CopyFormat format, bool read_back,
                                   ChunkOutcome& outcome) {
  try {
    copy_once(chunk_index, chunk, table, format, read_back, outcome);
  } catch (const Error& e) {
    bool sets_rows_aside = config_.rejects && config_.rejects->max() > 0;
    if (e.rejects_row() && table.mapped() && !sets_rows_aside && !cancellation_.requested()) {
      if (auto row = source::find_unmappable_row(source_, table, chunk, cancellation_)) {
        throw Error(e.kind(),
                    fmt::format("the mapping of {} fails on the source row with key {}: {}: {}", table.source, row->key,
                                row->expression, row->error),
                    table.source, "fix the expression (or guard it: CASE, NULLIF), leave such rows out with a where, "
                    "or set them aside with --max-rejects", e.sqlstate());
      }
    }
    if (e.rejects_row() && sets_rows_aside && !cancellation_.requested()) {
      spdlog::warn("{}: the target rejected a row ({}); loading this chunk row by row to set such rows aside",
                   table.source, e.what());
      copy_isolating_rejects(chunk_index, chunk, table, read_back, outcome);
      return;
    }
    if (format != CopyFormat::Binary || !e.refuses_binary_form() || cancellation_.requested()) throw;
    spdlog::warn("{}: the target refused the binary form ({}); copying this table as text", table.source, e.what());
    outcome.switched_to_text = true;
    copy_once(chunk_index, chunk, table, CopyFormat::Text, read_back, outcome);
  }
}

void Lane::copy_isolating_rejects(size_t chunk_index, const plan::Chunk& chunk,
                                  const plan::TableCopy& table, bool read_back, ChunkOutcome& outcome) {
  // Source rows the mapping fails on are found first, on the source alone, and set aside too.
  auto readable = chunk;
  std::vector<std::pair<std::string, std::string>> unmappable;
  while (auto row = source::find_unmappable_row(source_, table, readable, cancellation_)) {
    if (!config_.rejects->take_one()) {
      throw Error(ErrorKind::Runtime,
                  fmt::format("more than {} rows rejected (--max-rejects); the last: the mapping fails on the source "
                              "row with key {}: {}",
                              config_.rejects->max(), row->key, row->error),
                  table.source, "fix the rows or the mapping, or raise --max-rejects");
    }
    unmappable.emplace_back(row->row, fmt::format("the mapping fails on this source row (key {}): {}: {}", row->key,
                                                  row->expression, row->error));
    readable = source::without_row(readable, row->condition);
  }
  load_chunk(chunk_index, chunk, table, read_back, outcome, [&] {
    auto isolated = load_isolating_rejects(source_, target_, plan::copy_out_sql(table, readable, CopyFormat::Text),
                                           table, *config_.rejects, cancellation_);
    isolated.rejected.insert(isolated.rejected.end(), unmappable.begin(), unmappable.end());
    return ChunkLoad{isolated.rows, isolated.bytes, isolated.digest, CopyFormat::Text, std::move(isolated.rejected)};
  });
}

void Lane::copy_once(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                     CopyFormat format, bool read_back, ChunkOutcome& outcome) {
  load_chunk(chunk_index, chunk, table, read_back, outcome, [&] {
    auto digester = verify::stream_digester(table, format);
    pg::Cancellation::Watch watch_source(cancellation_, source_);
    pg::Cancellation::Watch watch_target(cancellation_, target_);
    // The target's COPY in the chunk's transaction and, with a spool, the chunk's file (durable
    // before the chunk commits); then the source's COPY in the snapshot.
    TargetCopyIn load(target_, plan::copy_in_sql(table, format), table.source);
    std::optional<SpoolFileSink> file;
    std::vector<ChunkSink*> sinks{&load};
    if (!config_.spool_dir.empty()) {
      sinks.push_back(&file.emplace(std::filesystem::path(config_.spool_dir) / spool::chunk_file_name(chunk_index),
                                    config_.spool_level, config_.spool_workers));
    }
    CopyOutSource read(source_, plan::copy_out_sql(table, chunk, format), table.source);
    PumpResult pumped = pump_chunk(read, sinks, blocks_, config_.verify || file ? &digester : nullptr, cancellation_,
                                   table.source);
    return ChunkLoad{pumped.rows, pumped.bytes, digester.digest(), format, {}};
  });
}

// The chunk's one target transaction: claim its catalog row (or skip it: done already, or
// another worker holds it), load, mark it done, commit. Then set rejects aside and, when
// verifying by chunk, read the committed rows back.
void Lane::load_chunk(size_t chunk_index, const plan::Chunk& chunk, const plan::TableCopy& table,
                      bool read_back, ChunkOutcome& outcome, const std::function<ChunkLoad()>& load) {
  RunCatalog catalog(target_, config_.catalog_schema);
  ChunkLoad loaded;
  auto started = std::chrono::steady_clock::now();
  try {
    target_.exec("BEGIN", table.target);
    if (config_.run_id && !catalog.claim(config_.run_id, chunk_index)) {
      target_.exec("ROLLBACK", table.target);
      outcome.skipped = true;
      return;
    }
    loaded = load();
    if (config_.run_id) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      catalog.mark_done(config_.run_id, chunk_index,
                        {loaded.rows, loaded.bytes, loaded.digest, loaded.format, config_.worker,
                         static_cast<int64_t>(loaded.rejected.size()), number_, seconds});
    }
    // The rejects are on disk before the chunk commits: a committed chunk's rejects always exist.
    if (!loaded.rejected.empty()) config_.rejects->write(table.target, chunk_index, loaded.rejected);
    target_.exec("COMMIT", table.target);
  } catch (...) {
    recover_after_failure();
    throw;
  }
  core::chunk_committed(cancellation_);
  outcome.rows = loaded.rows;
  outcome.bytes = loaded.bytes;
  outcome.format = loaded.format;
  outcome.source_digest = loaded.digest;
  outcome.rejected = static_cast<int64_t>(loaded.rejected.size());
  if (read_back) {
    outcome.target_digest = verify::digest_copy_out(target_, plan::target_copy_out_sql(table, chunk.predicate, loaded.format), table,
                                            loaded.format, cancellation_);
    if (config_.run_id) catalog.record_target_digest(config_.run_id, chunk_index, *outcome.target_digest);
  }
}

// A failed COPY aborts both transactions; the next chunk needs a clean target session and a
// source transaction back on the run's snapshot (which the coordinator still holds).
void Lane::recover_after_failure() {
  if (target_.alive()) pg::rollback_quietly(target_);
  if (!source_.alive()) return;
  pg::rollback_quietly(source_);
  if (cancellation_.requested()) return;
  try {
    pg::join_snapshot(source_, config_.snapshot_id);
  } catch (const Error& e) {
    spdlog::debug("lane could not rejoin the snapshot: {}", e.what());
  }
}

}  // namespace pgblit::mover
