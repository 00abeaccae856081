// See copy_sql.hpp.
#include "plan/copy_sql.hpp"

#include <fmt/format.h>

#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

std::string column_list(const plan::TableCopy& table) {
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) out += (i ? ", " : "") + pg::quote_ident(table.columns[i]);
  return out;
}

std::string where(const std::string& predicate) { return predicate.empty() ? "" : " WHERE " + predicate; }

}  // namespace

const char* format_name(plan::CopyFormat format) {
  return format == plan::CopyFormat::Binary ? "binary" : "text";
}

plan::CopyFormat format_from_name(std::string_view name) {
  return name == "binary" ? plan::CopyFormat::Binary : plan::CopyFormat::Text;
}

std::string copy_out_sql(const plan::TableCopy& table, const plan::Chunk& chunk,
                         plan::CopyFormat format) {
  // A mapped table: its rules, and its filter beside the chunk's range.
  return fmt::format("COPY ({}) TO STDOUT (FORMAT {})", source_rows_sql(table, chunk.predicate), format_name(format));
}

std::string copy_in_sql(const plan::TableCopy& table, plan::CopyFormat format) {
  std::string columns = table.columns.empty() ? "" : " (" + column_list(table) + ")";
  return fmt::format("COPY {}{} FROM STDIN (FORMAT {})", table.target, columns, format_name(format));
}

std::string target_copy_out_sql(const plan::TableCopy& table, const std::string& predicate,
                                plan::CopyFormat format) {
  return fmt::format("COPY (SELECT {} FROM {}{}{}) TO STDOUT (FORMAT {})", column_list(table),
                     table.target_partitioned ? "" : "ONLY ", table.target, where(predicate), format_name(format));
}

}  // namespace pgblit::plan
