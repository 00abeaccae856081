#include <gtest/gtest.h>

#include "plan/copy_sql.hpp"

namespace pgblit::mover {
namespace {

using plan::CopyFormat;

TEST(CopySql, explicit_columns_only_and_the_chunk_predicate) {
  plan::TableCopy t;
  t.source = "\"s\".\"Orders\"";
  t.target = "\"s\".\"orders\"";
  t.columns = {"id", "Note"};
  plan::Chunk c{.predicate = "\"id\" >= 10"};
  EXPECT_EQ(plan::copy_out_sql(t, c, CopyFormat::Binary),
            "COPY (SELECT \"id\", \"Note\" FROM ONLY \"s\".\"Orders\" WHERE \"id\" >= 10) TO STDOUT (FORMAT binary)");
  EXPECT_EQ(plan::copy_in_sql(t, CopyFormat::Text), "COPY \"s\".\"orders\" (\"id\", \"Note\") FROM STDIN (FORMAT text)");
}

TEST(CopySql, zero_column_tables_have_no_column_list) {
  plan::TableCopy t;
  t.source = t.target = "\"public\".\"empty\"";
  EXPECT_EQ(plan::copy_out_sql(t, {}, CopyFormat::Binary), "COPY (SELECT  FROM ONLY \"public\".\"empty\") TO STDOUT (FORMAT binary)");
  EXPECT_EQ(plan::copy_in_sql(t, CopyFormat::Binary), "COPY \"public\".\"empty\" FROM STDIN (FORMAT binary)");
}

}  // namespace
}  // namespace pgblit::mover
