// See copy_digest.hpp.
#include "verify/copy_digest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "core/worker_pool.hpp"
#include "plan/copy_sql.hpp"
#include "pg/session.hpp"
#include "plan/chunking.hpp"
#include "pg/copy.hpp"
#include "pg/sql.hpp"

namespace pgblit::verify {

checksums::StreamFormat stream_format(plan::CopyFormat format) {
  return format == plan::CopyFormat::Binary ? checksums::StreamFormat::Binary : checksums::StreamFormat::Text;
}

void for_each_copied_row(pg::Connection& conn, const std::string& copy_out_sql, plan::CopyFormat format,
                         int expected_fields, const std::string& object, pg::Cancellation& cancellation,
                         const std::function<void(const checksums::RowView&)>& on_row) {
  pg::Cancellation::Watch watch(cancellation, conn);
  pg::CopyOut stream(conn, copy_out_sql, object);
  checksums::CopyFramer framer(stream_format(format),
                               format == plan::CopyFormat::Binary ? expected_fields : -1);
  std::optional<Error> framing_error;
  for (auto row = stream.next(); !row.empty(); row = stream.next()) {
    if (framing_error) continue;  // keep draining so the connection ends the COPY cleanly
    try {
      framer.consume(row, on_row);
    } catch (const Error& e) {
      framing_error = e;
      conn.cancel();
    }
  }
  auto end = stream.end();
  if (framing_error) throw *framing_error;
  if (end.error) throw *end.error;
  framer.finish();
}

checksums::RowDigester stream_digester(const plan::TableCopy& table, plan::CopyFormat format) {
  int fields = format == plan::CopyFormat::Binary ? static_cast<int>(table.columns.size()) : -1;
  return checksums::RowDigester(stream_format(format), table.key_fields, fields);
}

checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const plan::TableCopy& table, plan::CopyFormat format,
                                       pg::Cancellation& cancellation) {
  int fields = static_cast<int>(table.columns.size());
  checksums::RowDigester digester(stream_format(format), table.key_fields, fields);
  for_each_copied_row(conn, copy_out_sql, format, fields, table.target, cancellation,
                      [&](const checksums::RowView& row) { digester.add(row); });
  return digester.digest();
}

namespace {

struct PageRange {
  size_t table = 0;
  int64_t first = -1;  // -1: unbounded
  int64_t end = -1;
  int64_t pages = 0;
};

// Ranges of at most a quarter of a session's share of all pages (within 8 MB..128 MB), so the
// sessions finish close together; tables under 8 MB are one range.
std::vector<PageRange> page_ranges(const std::vector<int64_t>& pages, int jobs) {
  constexpr int64_t kMinPages = 1024;
  int64_t total = 0;
  for (int64_t p : pages) total += p;
  int64_t per_range = std::clamp<int64_t>(total / (4 * std::max(1, jobs)), kMinPages, 16 * kMinPages);
  std::vector<PageRange> ranges;
  for (size_t t = 0; t < pages.size(); ++t) {
    int64_t n = pages[t] < kMinPages ? 1 : (pages[t] + per_range - 1) / per_range;
    for (int64_t i = 0; i < n; ++i) {
      ranges.push_back({t, i == 0 ? -1 : pages[t] * i / n, i == n - 1 ? -1 : pages[t] * (i + 1) / n, pages[t] / n});
    }
  }
  std::stable_sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.pages > b.pages; });
  return ranges;
}

}  // namespace

std::vector<checksums::ChunkDigest> digest_whole_tables(pg::Connection& conn, Side side, const std::string& conninfo,
                                                        const std::string& snapshot_id, int jobs,
                                                        const std::vector<WholeTable>& tables,
                                                        pg::Cancellation& cancellation) {
  bool source = side == Side::Source;
  std::vector<int64_t> pages(tables.size());  // 0: read in one piece
  if (conn.server_version() >= 140000 && !tables.empty()) {
    std::vector<std::string> names;
    for (const auto& w : tables) {
      // A query's result has no pages: it is read in one piece.
      names.push_back(source ? (w.table->from_query() ? "" : w.table->source)
                             : w.table->target_partitioned ? "" : w.table->target);
    }
    auto r = conn.exec_params("SELECT CASE WHEN n = '' THEN 0 ELSE pg_relation_size(n::regclass) / "
                              "current_setting('block_size')::int END FROM unnest($1::text[]) WITH ORDINALITY u(n, i) "
                              "ORDER BY i",
                              {pg::text_array_literal(names)}, "tables compared whole");
    for (int i = 0; i < r.rows(); ++i) pages[static_cast<size_t>(i)] = r.int64(i, 0);
  }
  auto ranges = page_ranges(pages, jobs);
  auto read = [&](pg::Connection& session, const PageRange& range) {
    const auto& w = tables[range.table];
    std::string predicate =
        range.first < 0 && range.end < 0 ? "" : plan::ctid_range_predicate(range.first, range.end);
    std::string sql = source ? plan::copy_out_sql(*w.table, plan::Chunk{.predicate = predicate}, w.format)
                             : plan::target_copy_out_sql(*w.table, predicate, w.format);
    return digest_copy_out(session, sql, *w.table, w.format, cancellation);
  };
  std::vector<checksums::ChunkDigest> digests(tables.size());
  if (ranges.size() == 1) {
    digests[ranges[0].table] = read(conn, ranges[0]);
    return digests;
  }
  std::mutex mutex;
  size_t next = 0;
  bool failed = false;  // a reader failed: the others take no further range
  run_workers(std::min<int>(jobs, static_cast<int>(ranges.size())), [&](int) {
    auto session = pg::open_session(conninfo, source ? "source" : "target");
    if (source) pg::join_snapshot(session, snapshot_id);
    for (;;) {
      size_t at = 0;
      {
        std::lock_guard lock(mutex);
        if (failed || next == ranges.size() || cancellation.requested()) return;
        at = next++;
      }
      auto digest = read(session, ranges[at]);
      std::lock_guard lock(mutex);
      digests[ranges[at].table] += digest;
    }
  }, [&](const std::exception_ptr&) {
    std::lock_guard lock(mutex);
    failed = true;
  });
  if (cancellation.requested()) throw cancellation.error();
  return digests;
}

}  // namespace pgblit::verify
