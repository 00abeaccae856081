// A mapping's SQL is one piece of one statement: what the loader lets through and what it
// refuses, lexed as PostgreSQL lexes quotes, dollar quotes and comments.
#include <gtest/gtest.h>

#include "mapping/mapping.hpp"

namespace pgblit::mapping {
namespace {

TEST(MappingSql, one_expression_or_condition_passes_whatever_its_quotes_hold) {
  for (const char* sql : {"org_id = 1", "lower(email)", "name = ';'", "name = 'it''s; (fine'", "\"we;ird\" > 0",
                          "\"a\"\"b\" = 1", "body = $$; DELETE $$", "body = $x$ ) $y$ ; $x$", "body = E'\\'; ('",
                          "a /* ; ) /* nested ; */ */ = 1", "cost$1 > 0", "(a IN (SELECT b FROM t WHERE c))"}) {
    EXPECT_EQ(sql_fragment_problem(sql), "") << sql;
  }
}

TEST(MappingSql, statements_open_quotes_and_stray_parentheses_are_refused) {
  for (const char* sql : {"true LIMIT 0; COMMIT; DELETE FROM public.canary", "x = 1;", "true) TO PROGRAM 'x' (",
                          "kind) FROM deals --", "a = 1 -- hides the rest", "name = 'open", "\"open = 1",
                          "body = $x$ never closed", "a /* open", "(a = 1", "body = E'\\''; DELETE FROM t"}) {
    EXPECT_NE(sql_fragment_problem(sql), "") << sql;
  }
  EXPECT_NE(sql_fragment_problem("x = 1; DELETE FROM t").find("';' ends a statement"), std::string::npos);
}

}  // namespace
}  // namespace pgblit::mapping
