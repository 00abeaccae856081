// Building SQL text from catalog names: identifiers are always quoted, so mixed-case,
// unicode and keyword names ("Sales"."Order Lines", "user") work unchanged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgblit::pg {

std::string quote_ident(std::string_view name);
// A string literal ('it''s'; E'back\\slash' when it holds a backslash, read alike whatever
// standard_conforming_strings says).
std::string quote_literal(std::string_view text);
std::string qualified_name(std::string_view schema, std::string_view name);
// Both SQL conditions ("(a) AND (b)"); either alone when the other is empty.
std::string sql_and(const std::string& a, const std::string& b);
// A text[] literal for a bind parameter: {"a","b \"c\""}.
std::string text_array_literal(const std::vector<std::string>& items);
// Parses a text[] as the server prints it (quoted or bare elements; NULL elements dropped).
std::vector<std::string> parse_text_array(std::string_view literal);

}  // namespace pgblit::pg
