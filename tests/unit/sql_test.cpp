#include <gtest/gtest.h>

#include "pg/sql.hpp"

namespace pgblit::pg {
namespace {

TEST(Sql, identifiers_are_always_quoted_with_inner_quotes_doubled) {
  EXPECT_EQ(quote_ident("orders"), "\"orders\"");
  EXPECT_EQ(quote_ident("Order \"Lines\""), "\"Order \"\"Lines\"\"\"");
  EXPECT_EQ(qualified_name("Sales", "Ünï"), "\"Sales\".\"Ünï\"");
}

TEST(Sql, literals_double_single_quotes) { EXPECT_EQ(quote_literal("it's"), "'it''s'"); }
TEST(Sql, literals_with_a_backslash_are_escape_strings_whatever_standard_conforming_strings_says) {
  EXPECT_EQ(quote_literal("a\\'; DROP TABLE t; --"), "E'a\\\\''; DROP TABLE t; --'");
}

TEST(Sql, text_arrays_round_trip_through_literal_and_parser) {
  std::vector<std::string> items{"plain", "with space", "q\"uote", "back\\slash", "", "NULL"};
  EXPECT_EQ(parse_text_array(text_array_literal(items)), items);
}

TEST(Sql, server_printed_arrays_parse_bare_quoted_and_null_elements) {
  EXPECT_EQ(parse_text_array("{a,\"b c\",NULL,12}"), (std::vector<std::string>{"a", "b c", "12"}));
  EXPECT_TRUE(parse_text_array("{}").empty());
}

}  // namespace
}  // namespace pgblit::pg
