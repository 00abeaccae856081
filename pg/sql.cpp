// See sql.hpp.
#include "pg/sql.hpp"

namespace pgblit::pg {

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string sql_and(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return b.empty() ? a : "(" + a + ") AND (" + b + ")";
}

std::string quote_literal(std::string_view text) {
  // With a backslash, the escape-string form (as libpq's PQescapeLiteral writes it): it reads
  // the same whatever standard_conforming_strings a role or database sets, so a value from a
  // file can never end its literal early.
  bool backslash = text.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'' || (backslash && c == '\\')) out += c;
    out += c;
  }
  return out + "'";
}

std::string qualified_name(std::string_view schema, std::string_view name) {
  return quote_ident(schema) + "." + quote_ident(name);
}

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::vector<std::string> parse_text_array(std::string_view literal) {
  std::vector<std::string> items;
  if (literal.size() < 2 || literal.front() != '{') return items;
  size_t i = 1;
  while (i < literal.size() && literal[i] != '}') {
    std::string item;
    bool quoted = literal[i] == '"';
    if (quoted) {
      for (++i; i < literal.size() && literal[i] != '"'; ++i) {
        if (literal[i] == '\\' && i + 1 < literal.size()) ++i;
        item += literal[i];
      }
      ++i;  // closing quote
    } else {
      for (; i < literal.size() && literal[i] != ',' && literal[i] != '}'; ++i) item += literal[i];
    }
    if (quoted || item != "NULL") items.push_back(std::move(item));
    if (i < literal.size() && literal[i] == ',') ++i;
  }
  return items;
}

}  // namespace pgblit::pg
