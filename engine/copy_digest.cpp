// See copy_digest.hpp.
#include "engine/copy_digest.hpp"

#include <fmt/format.h>

#include <memory>

#include "pg/sql.hpp"

namespace pgblit::engine {

checksums::StreamFormat stream_format(partitioner::CopyFormat format) {
  return format == partitioner::CopyFormat::Binary ? checksums::StreamFormat::Binary : checksums::StreamFormat::Text;
}

checksums::ChunkDigest digest_copy_out(pg::Connection& conn, const std::string& copy_out_sql,
                                       const partitioner::TableCopy& table, partitioner::CopyFormat format,
                                       Cancellation& cancellation) {
  Cancellation::Watch watch(cancellation, conn);
  pg::Result started(PQexec(conn.raw(), copy_out_sql.c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_OUT) {
    throw pg::server_error(conn.raw(), started.get(), fmt::format("reading back from the {}", conn.role()),
                           table.target);
  }
  int fields = format == partitioner::CopyFormat::Binary ? static_cast<int>(table.columns.size()) : -1;
  checksums::RowDigester digester(stream_format(format), table.key_fields, fields);
  std::optional<Error> framing_error;
  for (;;) {
    char* raw = nullptr;
    int n = PQgetCopyData(conn.raw(), &raw, 0);
    if (n < 0) break;
    std::unique_ptr<char, decltype(&PQfreemem)> row(raw, &PQfreemem);
    if (framing_error) continue;  // keep draining so the connection ends the COPY cleanly
    try {
      digester.consume(std::span<const char>(row.get(), static_cast<size_t>(n)));
    } catch (const Error& e) {
      framing_error = e;
    }
  }
  std::optional<Error> server_failure;
  while (PGresult* raw = PQgetResult(conn.raw())) {
    pg::Result result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && !server_failure) {
      server_failure = pg::server_error(conn.raw(), raw, fmt::format("reading back from the {}", conn.role()),
                                        table.target);
    }
  }
  if (server_failure) throw *server_failure;
  if (framing_error) throw *framing_error;
  digester.finish();
  return digester.digest();
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
