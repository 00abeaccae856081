// See conninfo.hpp.
#include "pg/conninfo.hpp"

#include <libpq-fe.h>

#include <map>
#include <string_view>

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

std::string scrub_password(std::string message, const std::string& conninfo) {
  auto fields = parse(conninfo);
  auto it = fields.find("password");
  if (it == fields.end() || it->second.empty()) return message;
  for (size_t at = message.find(it->second); at != std::string::npos; at = message.find(it->second, at)) {
    message.replace(at, it->second.size(), "********");
  }
  return message;
}

}  // namespace pgblit::pg
