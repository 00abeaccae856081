// See copy_digest.hpp.
#include "engine/copy_digest.hpp"

#include <fmt/format.h>

#include <memory>

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
  for (;;) {
    char* raw = nullptr;
    int n = PQgetCopyData(conn.raw(), &raw, 0);
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
  std::optional<Error> server_failure;
  while (PGresult* raw = PQgetResult(conn.raw())) {
    pg::Result result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && !server_failure) {
      server_failure = pg::server_error(conn.raw(), raw, doing, object);
    }
  }
  if (framing_error) throw *framing_error;
  if (server_failure) throw *server_failure;
  framer.finish();
}

checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                       Cancellation& cancellation) {
  checksums::ChunkDigest digest;
  for_each_copied_row(conn, copy_out_sql, format, static_cast<int>(table.columns.size()), table.target,
                      cancellation, [&](const checksums::RowView& row) {
                        ++digest.rows;
                        digest.row_hash_sum += checksums::RowDigester::row_hash(row.bytes);
                        digest.key_hash_sum += checksums::RowDigester::key_hash(row, table.key_fields);
                      });
  return digest;
}

std::string target_copy_out_sql(const partitioner::TableCopy& table, const std::string& predicate,
                                partitioner::CopyFormat format) {
  std::vector<std::string> columns;
  for (const auto& c : table.columns) columns.push_back(pg::quote_ident(c));
  return fmt::format("COPY (SELECT {} FROM {}{}{}) TO STDOUT (FORMAT {})", fmt::join(columns, ", "),
                     table.target_partitioned ? "" : "ONLY ", table.target,
                     predicate.empty() ? "" : " WHERE " + predicate,
                     format == partitioner::CopyFormat::Binary ? "binary" : "text");
}

}  // namespace pgblit::engine
