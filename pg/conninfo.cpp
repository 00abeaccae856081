// See conninfo.hpp.
#include "pg/conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "core/secrets.hpp"

namespace pgblit::pg {
namespace {

std::map<std::string, std::string> parse(const std::string& conninfo) {
  std::map<std::string, std::string> fields;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    PQfreemem(error);
    return fields;
  }
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (o->val && *o->val) fields[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return fields;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding as far as it goes (a malformed escape stays as it is).
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

void add_uri_passwords(std::string_view uri, std::vector<std::string>& out) {
  size_t scheme = uri.find("://");
  if (scheme == std::string_view::npos) return;
  std::string_view rest = uri.substr(scheme + 3);
  // The user info ends at an '@'; take both the first and the last, since a password may
  // hold an unescaped '@' that libpq would read differently from what the user meant.
  for (size_t at : {rest.find('@'), rest.rfind('@')}) {
    if (at == std::string_view::npos) continue;
    std::string_view userinfo = rest.substr(0, at);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view password = userinfo.substr(colon + 1);
    out.emplace_back(password);
    out.push_back(percent_decoded(password));
  }
  for (size_t p = uri.find("password="); p != std::string_view::npos; p = uri.find("password=", p + 1)) {
    std::string_view value = uri.substr(p + 9);
    value = value.substr(0, value.find('&'));
    out.emplace_back(value);
    out.push_back(percent_decoded(value));
  }
}

void add_keyword_passwords(std::string_view text, std::vector<std::string>& out) {
  for (size_t p = text.find("password"); p != std::string_view::npos; p = text.find("password", p + 1)) {
    size_t i = p + 8;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size() || text[i] != '=') continue;
    ++i;
    while (i < text.size() && text[i] == ' ') ++i;
    std::string value;
    if (i < text.size() && text[i] == '\'') {  // quoted, with backslash escapes; maybe unterminated
      for (++i; i < text.size() && text[i] != '\''; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i];
      }
    } else {
      while (i < text.size() && text[i] != ' ') value += text[i++];
    }
    out.push_back(value);
  }
}

std::string fmt_pair(const char* keyword, const std::string& quoted_value, bool first) {
  return std::string(first ? "" : " ") + keyword + "='" + quoted_value + "'";
}

}  // namespace

std::string redact_conninfo(const std::string& conninfo) {
  if (conninfo.empty()) return "(from PG* environment)";
  auto fields = parse(conninfo);
  if (fields.empty()) return "(unparsable connection string)";
  auto get = [&](const char* key) { return fields.count(key) ? fields[key] : std::string(); };
  std::string out = "postgresql://";
  if (!get("user").empty()) out += get("user") + "@";
  std::string host = get("host").empty() ? get("hostaddr") : get("host");
  out += host;
  if (!get("port").empty()) out += ":" + get("port");
  out += "/" + get("dbname");
  if (!get("service").empty()) out += " (service " + get("service") + ")";
  return out;
}

namespace {
// Every setting of `conninfo` as key='value' pairs (libpq's order), but those named in `drop`;
// `password` receives the one dropped under that name. nullopt when libpq cannot parse it.
std::optional<std::string> pairs_without(const std::string& conninfo, std::initializer_list<std::string_view> drop,
                                         std::string* password) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    PQfreemem(error);
    return std::nullopt;
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    if (password && std::string_view(o->keyword) == "password") *password = o->val;
    if (std::find(drop.begin(), drop.end(), std::string_view(o->keyword)) != drop.end()) continue;
    std::string value;
    for (const char* c = o->val; *c; ++c) {
      if (*c == '\\' || *c == '\'') value += '\\';
      value += *c;
    }
    out += fmt_pair(o->keyword, value, out.empty());
  }
  PQconninfoFree(options);
  return out;
}
}  // namespace

std::string without_password(const std::string& conninfo) {
  return pairs_without(conninfo, {"password", "sslpassword"}, nullptr).value_or("");
}

ToolConnection for_tool(const std::string& conninfo) {
  ToolConnection out;
  auto pairs = pairs_without(conninfo, {"password"}, &out.password);
  if (!pairs) throw usage_error("a connection string is not valid", redact_conninfo(conninfo));
  out.conninfo = *pairs;
  return out;
}

std::vector<std::string> passwords_in(const std::string& conninfo) {
  std::vector<std::string> out;
  auto fields = parse(conninfo);
  if (auto it = fields.find("password"); it != fields.end()) out.push_back(it->second);
  add_uri_passwords(conninfo, out);
  add_keyword_passwords(conninfo, out);
  std::erase_if(out, [](const std::string& p) { return p.empty(); });
  return out;
}

std::string scrub_password(std::string message, const std::string& conninfo) {
  for (const auto& password : passwords_in(conninfo)) Secrets::process().remember(password);
  return Secrets::process().scrub(std::move(message));
}

std::string redact_parse_error(const std::string& message) {
  std::string out;
  bool quoted = false;
  for (char c : message) {
    if (c == '"') {
      out += quoted ? "\"" : "\"…";
      quoted = !quoted;
    } else if (!quoted) {
      out += c;
    }
  }
  return out;
}

}  // namespace pgblit::pg
