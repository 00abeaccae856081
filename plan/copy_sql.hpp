// The COPY statements pgblit runs: reading a chunk of a source table, loading a target table,
// and reading a range of a target table back. Columns are always listed explicitly, in the
// plan's order, so both sides lay rows out alike.
#pragma once

#include <string>
#include <string_view>

#include "plan/plan.hpp"

namespace pgblit::plan {

const char* format_name(plan::CopyFormat format);
// The inverse of format_name: "binary" or else text.
plan::CopyFormat format_from_name(std::string_view name);

std::string copy_out_sql(const plan::TableCopy& table, const plan::Chunk& chunk,
                         plan::CopyFormat format);
std::string copy_in_sql(const plan::TableCopy& table, plan::CopyFormat format);
// `predicate`'s rows of the target table (all rows when empty).
std::string target_copy_out_sql(const plan::TableCopy& table, const std::string& predicate,
                                plan::CopyFormat format);

}  // namespace pgblit::plan
