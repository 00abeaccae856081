// See lane.hpp.
#include "engine/lane.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "engine/copy_digest.hpp"
#include "engine/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::engine {
namespace {

using partitioner::CopyFormat;

std::string column_list(const partitioner::TableCopy& table) {
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) out += (i ? ", " : "") + pg::quote_ident(table.columns[i]);
  return out;
}

const char* format_name(CopyFormat format) { return format == CopyFormat::Binary ? "binary" : "text"; }

// The binary form of a value was refused: its OIDs (arrays, composites) or layout differ.
bool is_binary_form_refusal(const Error& error) {
  return error.sqlstate() == "42804" || error.sqlstate() == "22P03";
}

}  // namespace

std::string copy_out_sql(const partitioner::TableCopy& table, const partitioner::Chunk& chunk, CopyFormat format) {
  return fmt::format("COPY (SELECT {} FROM ONLY {}{}) TO STDOUT (FORMAT {})", column_list(table), table.source,
                     chunk.predicate.empty() ? "" : " WHERE " + chunk.predicate, format_name(format));
}

std::string copy_in_sql(const partitioner::TableCopy& table, CopyFormat format) {
  std::string columns = table.columns.empty() ? "" : " (" + column_list(table) + ")";
  return fmt::format("COPY {}{} FROM STDIN (FORMAT {})", table.target, columns, format_name(format));
}

Lane::Lane(const LaneConfig& config, Cancellation& cancellation)
    : config_(config),
      cancellation_(cancellation),
      source_(open_session(config.source, "source")),
      target_(open_session(config.target, "target")) {
  join_snapshot(source_, config_.snapshot_id);
  if (config_.disable_triggers) target_.exec("SET session_replication_role TO replica", "--disable-triggers");
}

ChunkOutcome Lane::copy(const partitioner::Chunk& chunk, const partitioner::TableCopy& table, CopyFormat format,
                        bool read_back) {
  ChunkOutcome outcome;
  auto started = std::chrono::steady_clock::now();
  try {
    try {
      copy_once(chunk, table, format, read_back, outcome);
    } catch (const Error& e) {
      if (format != CopyFormat::Binary || !is_binary_form_refusal(e) || cancellation_.requested()) throw;
      spdlog::warn("{}: the target refused the binary form ({}); copying this table as text", table.source, e.what());
      outcome.switched_to_text = true;
      copy_once(chunk, table, CopyFormat::Text, read_back, outcome);
    }
  } catch (const Error& e) {
    outcome.error = e;
  } catch (const std::exception& e) {
    outcome.error = Error(ErrorKind::Runtime, e.what(), table.source);
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

void Lane::copy_once(const partitioner::Chunk& chunk, const partitioner::TableCopy& table, CopyFormat format,
                     bool read_back, ChunkOutcome& outcome) {
  try {
    int fields = format == CopyFormat::Binary ? static_cast<int>(table.columns.size()) : -1;
    checksums::RowDigester digester(stream_format(format), table.key_fields, fields);
    target_.exec("BEGIN", table.target);
    PumpResult pumped = pump_copy(source_, target_, copy_out_sql(table, chunk, format), copy_in_sql(table, format),
                                  blocks_, digester, cancellation_, table.source);
    target_.exec("COMMIT", table.target);
    outcome.rows = pumped.rows;
    outcome.bytes = pumped.bytes;
    outcome.format = format;
    outcome.source_digest = digester.digest();
    if (read_back) {
      outcome.target_digest =
          digest_copy_out(target_, target_copy_out_sql(table, chunk.predicate, format), table, format, cancellation_);
    }
  } catch (...) {
    recover_after_failure();
    throw;
  }
}

// A failed COPY aborts both transactions; the next chunk needs a clean target session and a
// source transaction back on the run's snapshot (which the coordinator still holds).
void Lane::recover_after_failure() {
  rollback_quietly(target_);
  rollback_quietly(source_);
  if (cancellation_.requested()) return;
  try {
    join_snapshot(source_, config_.snapshot_id);
  } catch (const Error& e) {
    spdlog::debug("lane could not rejoin the snapshot: {}", e.what());
  }
}

}  // namespace pgblit::engine
