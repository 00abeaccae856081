// See new_keys.hpp.
//
// Integer keys are dense: the moved rows take exactly as many keys as rows move, in source key
// order, from a block above the target's largest key and its sequence (the copy reserves the
// block in the sequence when the run starts, in the transaction that records the run). The old
// keys are read once here, in the run's snapshot, as runs of consecutive values; a run of old
// keys maps onto consecutive new ones, so the rule is small when the source is dense and exact
// when it is not. A key the run does not move maps to NULL: a reference to a row left behind
// is not pointed at some other row. uuid keys become md5(salt || old). The rules are kept with
// the plan in the run catalog, so a resumed run rewrites alike and the key map is recomputed
// from them.
#include "plan/new_keys.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <random>

#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

bool integer_type(const std::string& type) {
  return type == "pg_catalog.int2" || type == "pg_catalog.int4" || type == "pg_catalog.int8";
}

// A table loaded as it is gets a rule per column, so one of them can be rewritten.
void spell_out_rules(TableCopy& table) {
  if (!table.column_rules.empty()) return;
  for (const auto& c : table.columns) table.column_rules.push_back({c, mapping::PassThrough{c}});
}

// The type a rewritten column is read as: its rule's, or the target column's for a pass-through.
std::string target_type(const mapping::TargetColumn& rule, const Relation& destination) {
  std::string type = mapping::read_type(rule.source);
  if (!type.empty()) return type;
  const Column* c = destination.column(rule.name);
  return c && c->type.starts_with("pg_catalog.") ? c->type : "text";
}

// The old keys the run moves, as runs of consecutive values, and the new keys they take.
void dense_runs(pg::Connection& source, const TableCopy& table, const std::string& column, mapping::NewKeys& keys) {
  auto runs = source.exec_one(
      fmt::format("SELECT min(k), count(*) FROM (SELECT k, k - row_number() OVER (ORDER BY k) AS g FROM ({}) s) r "
                  "GROUP BY g ORDER BY 1",
                  source_select_sql(table, pg::quote_ident(column) + "::int8 AS k", pg::quote_ident(column) + " IS NOT NULL")),
      table.source);
  int64_t next = keys.first;
  for (int r = 0; r < runs.rows(); ++r) {
    mapping::KeyRun run{runs.int64(r, 0), runs.int64(r, 1), next};
    next += run.count;
    keys.runs.push_back(run);
  }
  keys.count = next - keys.first;
}

std::string single_column_key(pg::Connection& source, const Relation& relation) {
  auto pk = source.exec_params(
      "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
      "WHERE c.conrelid = $1::oid AND c.contype = 'p' AND cardinality(c.conkey) = 1",
      {std::to_string(relation.oid)}, relation.qualified());
  return pk.rows() == 0 ? "" : pk.text(0, 0);
}

// The key rule of merged table `i`, its key column's rule made NewKey; false with a problem.
bool plan_new_keys(pg::Connection& source, pg::Connection& target, const mapping::TableMapping& m,
                   const Relation& src, const Relation& dest, TableCopy& table, std::vector<std::string>& problems) {
  std::string column = single_column_key(source, src);
  if (column.empty()) {
    problems.push_back(fmt::format("{}: new_keys needs a single-column primary key on {}", m.location, table.source));
    return false;
  }
  spell_out_rules(table);
  auto rule = std::find_if(table.column_rules.begin(), table.column_rules.end(),
                           [&](const auto& r) { return mapping::carried_column(r.source) == column; });
  if (rule == table.column_rules.end()) {
    problems.push_back(fmt::format("{}: new_keys gives the key \"{}\" its values; no target column may take it by an "
                                   "expression, a value map or a remap (write {{from: {}}} or leave it out of 'columns')",
                                   m.location, column, column));
    return false;
  }
  mapping::NewKeys keys{.kind = m.new_keys, .source_table = table.source, .target_table = table.target,
                        .source_column = column, .target_column = rule->name};
  if (m.new_keys == "uuid") {
    std::random_device random;
    keys.salt = fmt::format("{:08x}{:08x}", random(), random());
    keys.filter = table.filter;
  } else {
    const Column* c = src.column(column);
    if (!c || !integer_type(c->type)) {
      problems.push_back(fmt::format("{}: new_keys: sequence needs an integer key; \"{}\" of {} is {}", m.location, column,
                                     table.source, c ? c->display_type : "?"));
      return false;
    }
    auto sequence = target.exec_params("SELECT pg_get_serial_sequence($1, $2)", {table.target, rule->name}, table.target);
    keys.sequence = sequence.is_null(0, 0) ? "" : sequence.text(0, 0);
    keys.first = target
                     .exec_one(fmt::format("SELECT GREATEST(COALESCE((SELECT max({})::int8 FROM {}), 0), {}) + 1",
                                           pg::quote_ident(rule->name), table.target,
                                           keys.sequence.empty() ? "0" : "(SELECT last_value FROM " + keys.sequence + ")"),
                               table.target)
                     .int64(0, 0);
    dense_runs(source, table, column, keys);
    // The block must fit the column it lands in (an int4 key on the target ends at 2147483647).
    const Column* landing = dest.column(rule->name);
    int64_t top = !landing                                  ? INT64_MAX
                  : landing->type == "pg_catalog.int4"       ? int64_t{INT32_MAX}
                  : landing->type == "pg_catalog.int2"       ? int64_t{INT16_MAX}
                                                             : INT64_MAX;
    if (keys.count > 0 && keys.first - 1 > top - keys.count) {
      problems.push_back(fmt::format("{}: new_keys: the {} moved rows of {} need keys {} to {}, past the largest {} \"{}\" "
                                     "of {} holds",
                                     m.location, keys.count, table.source, keys.first, keys.first + keys.count - 1,
                                     top, rule->name, table.target));
      return false;
    }
  }
  rule->source = mapping::NewKey{column, target_type(*rule, dest)};
  table.new_keys = std::move(keys);
  return true;
}

// Every target column of `table` carrying source column `column` becomes a reference through
// `parent` (an array of them when the source column is an array).
void rewrite_references(TableCopy& table, const Relation& src, const Relation& dest, const std::string& column,
                        const mapping::NewKeys& parent) {
  for (auto& rule : table.column_rules) {
    if (mapping::carried_column(rule.source) != column || std::holds_alternative<mapping::NewKey>(rule.source)) continue;
    std::string type = target_type(rule, dest);
    const Column* c = src.column(column);
    if (c && c->category == 'A') {
      rule.source = mapping::ReferenceArray{column, type, parent};
    } else {
      rule.source = mapping::Reference{column, type, parent};
    }
  }
}

// A column of a merged run whose name or type says it may hold keys, and that nothing rewrites.
// A foreign key column (`foreign_keys`: table index, column) is the source's own declaration.
void warn_undeclared(const Plan& plan, const std::vector<const Relation*>& sources,
                     const std::set<std::pair<size_t, std::string>>& foreign_keys, std::vector<std::string>& warnings) {
  std::set<std::string> key_types;
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    if (!plan.tables[i].merged()) continue;
    if (const Column* k = sources[i]->column(plan.tables[i].new_keys.source_column)) key_types.insert(k->type);
  }
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    for (const auto& rule : plan.tables[i].column_rules) {
      const auto* carried = std::get_if<mapping::Cast>(&rule.source);
      const auto* same = std::get_if<mapping::PassThrough>(&rule.source);
      if ((!carried || !carried->remaps.empty()) && !same) continue;
      std::string column = carried ? carried->column : same->column;
      if (foreign_keys.contains({i, column})) continue;
      const Column* c = sources[i]->column(column);
      bool named = column.ends_with("_id") || column.ends_with("_ids") || rule.name.ends_with("_id") ||
                   rule.name.ends_with("_ids");
      // An array of the merged keys' type: pg_catalog._int8 holds pg_catalog.int8.
      bool typed = c && c->category == 'A' && c->type.starts_with("pg_catalog._") &&
                   key_types.contains("pg_catalog." + c->type.substr(12));
      if (!named && !typed) continue;
      warnings.push_back(fmt::format(
          "{}.{} looks like a reference ({}) but no foreign key or 'references' says what it references: it is copied "
          "unchanged while this run gives merged tables new keys. If it holds keys of a merged table, declare it in "
          "the mapping: {}: {{from: {}, references: schema.table}}",
          plan.tables[i].target, pg::quote_ident(rule.name), named ? "its name" : "an array of the merged keys' type",
          rule.name, column));
    }
  }
}

// The names an expression reads: its words and quoted names outside string literals (a word
// that is a function or a keyword reads nothing, and matches no column).
std::set<std::string> names_read(const std::string& sql) {
  std::set<std::string> out;
  auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
  for (size_t i = 0; i < sql.size();) {
    char c = sql[i];
    if (c == '\'') {
      for (++i; i < sql.size() && !(sql[i] == '\'' && (i + 1 >= sql.size() || sql[i + 1] != '\'')); ++i) {
        if (sql[i] == '\'') ++i;
      }
      ++i;
    } else if (c == '"') {
      size_t end = sql.find('"', i + 1);
      if (end == std::string::npos) break;
      out.insert(sql.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (word_char(c)) {
      size_t end = i;
      while (end < sql.size() && word_char(sql[end])) ++end;
      std::string word = sql.substr(i, end - i);
      std::transform(word.begin(), word.end(), word.begin(), [](unsigned char ch) { return std::tolower(ch); });
      out.insert(word);
      i = end;
    } else {
      ++i;
    }
  }
  return out;
}

// An expression (or a value map's) that reads a merged key, or a column holding one, sees the
// source's old keys: what it computes from them is not rewritten through the key map.
void warn_expressions_reading_keys(const Plan& plan, const std::map<std::pair<size_t, std::string>, std::string>& merged_refs,
                                   std::vector<std::string>& warnings) {
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    const auto& table = plan.tables[i];
    for (const auto& rule : table.column_rules) {
      std::string sql;
      if (const auto* e = std::get_if<mapping::Expression>(&rule.source)) sql = e->sql;
      if (const auto* m = std::get_if<mapping::ValueMap>(&rule.source)) sql = m->expression;
      if (sql.empty()) continue;
      for (const auto& name : names_read(sql)) {
        std::string holds;
        if (table.merged() && name == table.new_keys.source_column) {
          holds = fmt::format("the key of {}, which this run gives new keys", table.source);
        } else if (auto ref = merged_refs.find({i, name}); ref != merged_refs.end()) {
          holds = fmt::format("keys of {}, which this run gives new keys", ref->second);
        } else {
          continue;
        }
        warnings.push_back(fmt::format(
            "{}.{}: its expression reads \"{}\", which holds {}: the expression sees the source's old keys, and what "
            "it computes from them is not rewritten. Take the key as it is with {{from: {}}} (it then follows the new "
            "keys), or compute the value from columns that are not keys",
            table.target, pg::quote_ident(rule.name), name, holds, name));
      }
    }
  }
}

}  // namespace

void apply_new_keys(pg::Connection& source, pg::Connection& target, const std::vector<const mapping::TableMapping*>& entries,
                    const std::vector<const Relation*>& sources, const std::vector<const Relation*>& destinations,
                    Plan& plan, std::vector<std::string>& problems) {
  // A source table may feed several plan tables (a list of entries); at most one of them merges
  // (the mapping refuses two), and it is the one whose keys the others' references follow.
  std::map<Oid, std::vector<size_t>> tables_of;
  std::map<std::pair<std::string, std::string>, Oid> oid_of_name;
  std::vector<std::string> oids;
  bool merging = false;
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    if (tables_of[sources[i]->oid].empty()) oids.push_back(std::to_string(sources[i]->oid));
    tables_of[sources[i]->oid].push_back(i);
    oid_of_name[{sources[i]->schema, sources[i]->name}] = sources[i]->oid;
    const auto* m = entries[i];
    if (!m || m->new_keys.empty()) continue;
    merging |= plan_new_keys(source, target, *m, *sources[i], *destinations[i], plan.tables[i], problems);
  }
  if (!merging) return;
  auto merged_table_of = [&](Oid oid) -> const TableCopy* {
    for (size_t i : tables_of[oid]) {
      if (plan.tables[i].merged()) return &plan.tables[i];
    }
    return nullptr;
  };
  std::set<std::pair<size_t, std::string>> foreign_keys;
  std::map<std::pair<size_t, std::string>, std::string> merged_refs;  // (table, source column): the merged table
  // The tables a merged table's source also feeds carry its key as a reference to its rows
  // (contact_organizations' contact_id: {from: id} beside contacts with new_keys).
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    const TableCopy* parent = merged_table_of(sources[i]->oid);
    if (plan.tables[i].merged() || !parent) continue;
    spell_out_rules(plan.tables[i]);
    rewrite_references(plan.tables[i], *sources[i], *destinations[i], parent->new_keys.source_column, parent->new_keys);
    foreign_keys.insert({i, parent->new_keys.source_column});
    merged_refs[{i, parent->new_keys.source_column}] = parent->source;
  }
  // The source's foreign keys say which columns hold a merged table's keys: each column of a
  // foreign key beside the parent column it references, composite keys too. A composite key's
  // column that references the merged key is rewritten like a single one (its other columns
  // keep their values, as the parent's do), so (new key, rest) finds the parent's moved row;
  // left as it was, the old key would find no row, or another row that took it as its new key.
  auto fks = source.exec_params(R"(
SELECT c.conrelid::int8, c.confrelid::int8, a.attname, p.attname
FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey, c.confkey) k(child, parent)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child
JOIN pg_attribute p ON p.attrelid = c.confrelid AND p.attnum = k.parent
WHERE c.contype = 'f' AND c.conrelid = ANY ($1::oid[]) AND c.confrelid = ANY ($1::oid[]))",
                                {pg::text_array_literal(oids)}, "foreign keys");
  for (int r = 0; r < fks.rows(); ++r) {
    const TableCopy* parent = merged_table_of(static_cast<Oid>(fks.int64(r, 1)));
    for (size_t child : tables_of[static_cast<Oid>(fks.int64(r, 0))]) {
      foreign_keys.insert({child, fks.text(r, 2)});
      if (!parent || fks.text(r, 3) != parent->new_keys.source_column) continue;
      merged_refs[{child, fks.text(r, 2)}] = parent->source;
      spell_out_rules(plan.tables[child]);
      rewrite_references(plan.tables[child], *sources[child], *destinations[child], fks.text(r, 2), parent->new_keys);
    }
  }
  // And the mapping's `references` say it where no foreign key can (arrays of keys).
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    const auto* m = entries[i];
    if (!m) continue;
    for (const auto& [name, cm] : m->columns) {
      if (cm.references.empty()) continue;
      auto parent_oid = oid_of_name.find(mapping::split_name(cm.references));
      const TableCopy* parent = parent_oid == oid_of_name.end() ? nullptr : merged_table_of(parent_oid->second);
      if (!parent) {
        problems.push_back(fmt::format("{}: 'references' names {}, which this run does not give new keys (add new_keys "
                                       "to its entry, or leave 'references' out: its values are then copied unchanged)",
                                       cm.where, cm.references));
        continue;
      }
      rewrite_references(plan.tables[i], *sources[i], *destinations[i], cm.from, parent->new_keys);
      foreign_keys.insert({i, cm.from});
      merged_refs[{i, cm.from}] = parent->source;
    }
  }
  warn_undeclared(plan, sources, foreign_keys, plan.warnings);
  warn_expressions_reading_keys(plan, merged_refs, plan.warnings);
}

}  // namespace pgblit::plan
