// See mapping.hpp.
#include "mapping/mapping.hpp"

#include <fmt/format.h>
#include <xxhash.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>

#include "core/error.hpp"

namespace pgblit::mapping {
namespace {

constexpr const char* kHint = "see docs/mapping.md for the file's format";

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}


class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  std::string at(const YAML::Node& node) const {
    auto m = node.Mark();
    return m.is_null() ? file_ : fmt::format("{}:{}:{}", file_, m.line + 1, m.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    throw usage_error(fmt::format("{}: {}", at(node), what), file_, kHint);
  }
  void only_keys(const YAML::Node& map, std::set<std::string> allowed, const std::string& what) const {
    if (!map.IsMap()) fail(map, what + " must be a mapping of keys to values");
    unique_keys(map, what);
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (!allowed.contains(key)) {
        fail(kv.first, fmt::format("unknown key '{}' in {} (allowed: {})", key, what, fmt::join(allowed, ", ")));
      }
    }
  }
  std::string text(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node, what + " must be a single value");
    return node.as<std::string>();
  }
  // SQL placed inside pgblit's statements: one expression or condition (sql_fragment_problem).
  std::string sql(const YAML::Node& node, const std::string& what) const {
    std::string value = text(node, what);
    if (auto problem = sql_fragment_problem(value); !problem.empty()) fail(node, fmt::format("{}: {}", what, problem));
    return value;
  }
  // yaml-cpp keeps both entries of a key written twice (and [] finds the first): the second
  // is refused, so no setting is silently dropped.
  void unique_keys(const YAML::Node& map, const std::string& what) const {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (!seen.insert(key).second) fail(kv.first, fmt::format("'{}' appears twice in {}", key, what));
    }
  }

  ColumnMapping column(const YAML::Node& node, const std::string& name) const {
    ColumnMapping c;
    c.where = at(node);
    if (node.IsScalar()) {  // title: name   (a rename, short form)
      c.from = node.as<std::string>();
      return c;
    }
    only_keys(node, {"from", "expr", "map", "else", "references"}, "column '" + name + "'");
    if (node["from"]) c.from = text(node["from"], "'from'");
    if (node["expr"]) c.expr = sql(node["expr"], "'expr'");
    if (c.from.empty() == c.expr.empty()) fail(node, "column '" + name + "' needs exactly one of 'from' or 'expr'");
    if (auto map = node["map"]) {
      if (!map.IsMap() || map.size() == 0) fail(map, "'map' must map source values to target values");
      unique_keys(map, "'map' of column '" + name + "'");
      for (const auto& kv : map) c.values.emplace_back(text(kv.first, "a 'map' key"), text(kv.second, "a 'map' value"));
    }
    if (auto otherwise = node["else"]) {
      // `else: null` is YAML's null, not the word: both spell the same rule.
      c.otherwise = otherwise.IsNull() ? "null" : text(otherwise, "'else'");
      if (c.otherwise != "keep" && c.otherwise != "null" && c.otherwise != "error") {
        fail(otherwise, "'else' must be keep, null or error");
      }
      if (c.values.empty()) fail(otherwise, "'else' needs a 'map'");
    }
    if (auto references = node["references"]) {
      c.references = text(references, "'references'");
      if (c.references.find('.') == std::string::npos) fail(references, "name tables as schema.table: '" + c.references + "'");
      if (c.from.empty() || !c.values.empty()) fail(references, "'references' needs 'from' (a column of keys) and no 'map'");
    }
    return c;
  }

  // A source table's entries: one (settings or skip), or a list of settings, one per target
  // table its rows feed (the table itself, a junction made of some of its columns, ...).
  std::vector<TableMapping> entries(const YAML::Node& key, const YAML::Node& node) const {
    if (!node.IsSequence()) return {table(key, node)};
    if (node.size() == 0) fail(node, "a table's list of entries is empty (write 'skip' to leave the table out)");
    std::vector<TableMapping> out;
    std::set<std::string> targets;
    bool merged = false;
    for (const auto& entry : node) {
      if (!entry.IsMap()) fail(entry, "an entry of a table's list is a mapping of settings (target, where, columns, ...)");
      auto t = table(key, entry);
      t.location = at(entry);
      t.several = true;
      if (entry["skip"]) fail(entry["skip"], "'skip' leaves a whole table out: write it instead of the list");
      std::string target = t.target.empty() ? t.source : t.target;
      if (!targets.insert(target).second) {
        fail(entry, fmt::format("two entries of '{}' load into {}: give each entry a target of its own", t.source, target));
      }
      if (!t.new_keys.empty() && std::exchange(merged, true)) {
        fail(entry["new_keys"], fmt::format("new_keys on two entries of '{}': its rows take one set of new keys, which "
                                            "every entry's references follow; put new_keys on one entry",
                                            t.source));
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  QueryMapping query(const YAML::Node& key, const YAML::Node& node) const {
    QueryMapping q;
    q.target = key.as<std::string>();
    q.location = at(key);
    if (q.target.find('.') == std::string::npos) fail(key, "name tables as schema.table: '" + q.target + "'");
    only_keys(node, {"query", "key"}, "query '" + q.target + "'");
    if (!node["query"]) fail(node, "query '" + q.target + "' needs 'query': the SELECT that fills it");
    q.query = sql(node["query"], "'query'");
    if (auto key_node = node["key"]) {
      if (key_node.IsScalar()) {
        q.key.push_back(text(key_node, "'key'"));
      } else if (key_node.IsSequence() && key_node.size() > 0) {
        for (const auto& k : key_node) q.key.push_back(text(k, "a 'key' column"));
      } else {
        fail(key_node, "'key' must be a column of the query's result, or a list of them");
      }
    }
    return q;
  }

  TableMapping table(const YAML::Node& key, const YAML::Node& node) const {
    TableMapping t;
    t.source = key.as<std::string>();
    t.location = at(key);
    if (t.source.find('.') == std::string::npos) fail(key, "name tables as schema.table: '" + t.source + "'");
    if (node.IsScalar()) {
      if (node.as<std::string>() != "skip") fail(node, "a table maps to settings or to 'skip'");
      t.skip = true;
      return t;
    }
    only_keys(node, {"target", "where", "columns", "drop", "skip", "new_keys"}, "table '" + t.source + "'");
    if (node["new_keys"]) {
      t.new_keys = text(node["new_keys"], "'new_keys'");
      if (t.new_keys != "sequence" && t.new_keys != "uuid") fail(node["new_keys"], "'new_keys' must be sequence or uuid");
    }
    if (node["target"]) t.target = text(node["target"], "'target'");
    if (!t.target.empty() && t.target.find('.') == std::string::npos) {
      fail(node["target"], "name tables as schema.table: '" + t.target + "'");
    }
    if (node["where"]) t.where = sql(node["where"], "'where'");
    if (node["skip"]) t.skip = node["skip"].as<bool>();
    if (auto columns = node["columns"]) {
      if (!columns.IsMap()) fail(columns, "'columns' must map target columns to their source");
      unique_keys(columns, "'columns' of table '" + t.source + "'");
      for (const auto& kv : columns) {
        auto name = kv.first.as<std::string>();
        t.columns[name] = column(kv.second, name);
      }
    }
    if (auto drop = node["drop"]) {
      if (!drop.IsSequence()) fail(drop, "'drop' must be a list of source columns");
      for (const auto& d : drop) t.drop.push_back(text(d, "a 'drop' entry"));
    }
    return t;
  }

 private:
  std::string file_;
};

}  // namespace

// Lexed as PostgreSQL does: '...' (with '' inside; E'...' with backslash escapes), "...",
// $tag$...$tag$, nested /* */.
std::string sql_fragment_problem(std::string_view sql) {
  int depth = 0;
  size_t i = 0;
  auto closes = [&](std::string_view end) {
    size_t at = sql.find(end, i);
    if (at == std::string_view::npos) return false;
    i = at + end.size();
    return true;
  };
  while (i < sql.size()) {
    char c = sql[i];
    bool after_word = i > 0 && identifier_char(sql[i - 1]);
    if (c == '\'') {
      bool escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && !(i > 1 && identifier_char(sql[i - 2]));
      for (++i;; ++i) {
        if (i >= sql.size()) return "a quoted string is not closed";
        if (escapes && sql[i] == '\\') {
          ++i;
        } else if (sql[i] == '\'') {
          if (i + 1 < sql.size() && sql[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        }
      }
      ++i;
    } else if (c == '"') {
      ++i;
      for (;;) {
        if (!closes("\"")) return "a quoted name is not closed";
        if (i < sql.size() && sql[i] == '"') {
          ++i;
        } else {
          break;
        }
      }
    } else if (c == '$' && !after_word) {
      size_t end = i + 1;
      while (end < sql.size() && identifier_char(sql[end]) && sql[end] != '$' &&
             !(end == i + 1 && sql[end] >= '0' && sql[end] <= '9')) {
        ++end;
      }
      if (end < sql.size() && sql[end] == '$') {  // $tag$ ... $tag$
        std::string tag(sql.substr(i, end - i + 1));
        i = end + 1;
        if (!closes(tag)) return "a dollar-quoted string is not closed";
      } else {
        i = end;  // a parameter ($1): not pgblit's, the server refuses it
      }
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      return "a '--' comment would hide the rest of pgblit's statement; use /* */";
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      for (int nested = 0;;) {
        if (i + 1 >= sql.size()) return "a /* comment is not closed";
        if (sql[i] == '/' && sql[i + 1] == '*') {
          ++nested, i += 2;
        } else if (sql[i] == '*' && sql[i + 1] == '/') {
          i += 2;
          if (--nested == 0) break;
        } else {
          ++i;
        }
      }
    } else {
      if (c == ';') return "';' ends a statement: a mapping's SQL is one expression or condition, not statements";
      if (c == '(') ++depth;
      if (c == ')' && --depth < 0) return "')' closes a parenthesis the SQL did not open";
      ++i;
    }
  }
  return depth == 0 ? "" : "a '(' is not closed";
}

bool Mapping::remaps_column(const std::string& column) const {
  for (const auto& r : remaps) {
    for (const auto& c : r.columns) {
      if (c == column) return true;
    }
  }
  return false;
}

void Mapping::require_row_selection_only(const std::string& command) const {
  auto refuse = [&](const std::string& where, const std::string& what) {
    throw usage_error(fmt::format("{}: {} keeps the source's tables and columns, so {} does not apply; it takes "
                                  "skip, where and scope",
                                  where, command, what),
                      file, "spool the mapped rows with pgblit copy --mapping FILE --spool DIR instead");
  };
  if (!remaps.empty()) refuse(remaps.front().location, "'remap'");
  if (!queries.empty()) refuse(queries.front().location, "'queries'");
  for (const auto& t : tables) {
    if (!t.target.empty()) refuse(t.location, "'target'");
    if (!t.columns.empty()) refuse(t.columns.begin()->second.where, "'columns'");
    if (!t.drop.empty()) refuse(t.location, "'drop'");
    if (!t.new_keys.empty()) refuse(t.location, "'new_keys'");
  }
}

const TableMapping* Mapping::find(const std::string& schema, const std::string& name) const {
  for (const auto& t : tables) {
    if (split_name(t.source) == std::pair{schema, name}) return &t;
  }
  return nullptr;
}

std::vector<const TableMapping*> Mapping::entries_of(const std::string& schema, const std::string& name) const {
  std::vector<const TableMapping*> out;
  for (const auto& t : tables) {
    if (split_name(t.source) == std::pair{schema, name}) out.push_back(&t);
  }
  return out;
}

std::pair<std::string, std::string> split_name(const std::string& qualified) {
  auto dot = qualified.find('.');
  if (dot == std::string::npos) return {"public", qualified};
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

Mapping load_mapping(const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw usage_error(fmt::format("cannot read the mapping file {}", file), file, "check the path given to --mapping");
  } catch (const YAML::ParserException& e) {
    throw usage_error(fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg), file, kHint);
  }
  Reader reader(file);
  reader.only_keys(root, {"version", "tables", "scope", "remap", "queries"}, "the mapping file");
  if (!root["version"] || reader.text(root["version"], "'version'") != "1") {
    reader.fail(root["version"] ? root["version"] : root, "'version: 1' is required (the only version there is)");
  }
  Mapping m;
  m.file = file;
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  m.digest = fmt::format("{:016x}", XXH3_64bits(bytes.data(), bytes.size()));
  auto tables = root["tables"];
  if (!tables || !tables.IsMap()) reader.fail(tables ? tables : root, "'tables' must map source tables to settings");
  if (auto scope = root["scope"]) {
    reader.only_keys(scope, {"column", "value"}, "'scope'");
    if (!scope["column"] || !scope["value"]) reader.fail(scope, "'scope' needs a column and a value");
    m.scope = Scope{reader.text(scope["column"], "'column'"), reader.text(scope["value"], "'value'"), reader.at(scope)};
  }
  if (auto remaps = root["remap"]) {
    if (!remaps.IsSequence()) reader.fail(remaps, "'remap' must be a list of {columns, from, to}");
    for (const auto& r : remaps) {
      reader.only_keys(r, {"columns", "from", "to"}, "a 'remap' entry");
      if (!r["columns"] || !r["columns"].IsSequence() || !r["from"] || !r["to"]) {
        reader.fail(r, "a 'remap' entry needs columns (a list), from and to");
      }
      Remap remap{{}, reader.text(r["from"], "'from'"), reader.text(r["to"], "'to'"), reader.at(r)};
      for (const auto& c : r["columns"]) remap.columns.push_back(reader.text(c, "a column"));
      m.remaps.push_back(std::move(remap));
    }
  }
  if (auto queries = root["queries"]) {
    if (!queries.IsMap()) reader.fail(queries, "'queries' must map target tables to {query, key}");
    reader.unique_keys(queries, "'queries'");
    for (const auto& kv : queries) m.queries.push_back(reader.query(kv.first, kv.second));
  }
  try {
    reader.unique_keys(tables, "'tables'");
    for (const auto& kv : tables) {
      for (auto& entry : reader.entries(kv.first, kv.second)) m.tables.push_back(std::move(entry));
    }
  } catch (const YAML::Exception& e) {
    throw usage_error(fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg), file, kHint);
  }
  return m;
}

}  // namespace pgblit::mapping
