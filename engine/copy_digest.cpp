// See copy_digest.hpp.
#include "engine/copy_digest.hpp"

#include <fmt/format.h>

#include <memory>
#include <thread>

#include "engine/copy_sql.hpp"
#include "engine/session.hpp"
#include "partitioner/chunking.hpp"
#include "pg/copy_reader.hpp"
#include "pg/sql.hpp"

namespace pgblit::engine {

checksums::StreamFormat stream_format(partitioner::CopyFormat format) {
  return format == partitioner::CopyFormat::Binary ? checksums::StreamFormat::Binary : checksums::StreamFormat::Text;
}

void for_each_copied_row(pg::Connection& conn, const std::string& copy_out_sql, partitioner::CopyFormat format,
                         int expected_fields, const std::string& object, Cancellation& cancellation,
                         const std::function<void(const checksums::RowView&)>& on_row) {
  Cancellation::Watch watch(cancellation, conn);
  std::string doing = fmt::format("reading from the {}", conn.role());
  pg::Result started(PQexec(conn.raw(), copy_out_sql.c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_OUT) throw pg::server_error(conn.raw(), started.get(), doing, object);
  checksums::CopyFramer framer(stream_format(format),
                               format == partitioner::CopyFormat::Binary ? expected_fields : -1);
  std::optional<Error> framing_error;
  pg::CopyOutReader reader(conn.raw());
  for (;;) {
    char* raw = nullptr;
    int n = reader.next(&raw);
    if (n < 0) break;
    std::unique_ptr<char, decltype(&PQfreemem)> row(raw, &PQfreemem);
    if (framing_error) continue;  // keep draining so the connection ends the COPY cleanly
    try {
      framer.consume(std::span<const char>(row.get(), static_cast<size_t>(n)), on_row);
    } catch (const Error& e) {
      framing_error = e;
      conn.cancel();
    }
  }
  auto end = pg::finish_command(conn.raw(), doing, object);
  if (framing_error) throw *framing_error;
  if (end.error) throw *end.error;
  framer.finish();
}

checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                       Cancellation& cancellation) {
  int fields = static_cast<int>(table.columns.size());
  checksums::RowDigester digester(stream_format(format), table.key_fields, fields);
  for_each_copied_row(conn, copy_out_sql, format, fields, table.target, cancellation,
                      [&](const checksums::RowView& row) { digester.add(row); });
  return digester.digest();
}

checksums::ChunkDigest digest_whole_table(pg::Connection& conn, Side side, const std::string& conninfo,
                                          const std::string& snapshot_id, int jobs,
                                          const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                          Cancellation& cancellation) {
  bool source = side == Side::Source;
  auto sql = [&](const std::string& predicate) {
    return source ? copy_out_sql(table, partitioner::Chunk{.predicate = predicate}, format)
                  : target_copy_out_sql(table, predicate, format);
  };
  int64_t pages = 0;
  if ((source || !table.target_partitioned) && conn.server_version() >= 140000) {
    pages = conn.exec("SELECT pg_relation_size(" + pg::quote_literal(source ? table.source : table.target) +
                          "::regclass) / current_setting('block_size')::int",
                      table.target)
                .int64(0, 0);
  }
  int parts = pages >= 1000 ? std::max(1, jobs) : 1;
  if (parts == 1) return digest_copy_out(conn, sql(""), table, format, cancellation);
  std::vector<checksums::ChunkDigest> digests(static_cast<size_t>(parts));
  std::vector<std::exception_ptr> failures(static_cast<size_t>(parts));
  std::vector<std::thread> readers;
  for (int i = 0; i < parts; ++i) {
    readers.emplace_back([&, i] {
      try {
        auto session = open_session(conninfo, source ? "source" : "target");
        if (source) join_snapshot(session, snapshot_id);
        int64_t first = i == 0 ? -1 : pages * i / parts;
        int64_t end = i == parts - 1 ? -1 : pages * (i + 1) / parts;
        digests[static_cast<size_t>(i)] =
            digest_copy_out(session, sql(partitioner::ctid_range_predicate(first, end)), table, format, cancellation);
      } catch (...) {
        failures[static_cast<size_t>(i)] = std::current_exception();
      }
    });
  }
  for (auto& r : readers) r.join();
  checksums::ChunkDigest total;
  for (size_t i = 0; i < digests.size(); ++i) {
    if (failures[i]) std::rethrow_exception(failures[i]);
    total += digests[i];
  }
  return total;
}

}  // namespace pgblit::engine
