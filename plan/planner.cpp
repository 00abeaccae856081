// See planner.hpp.
#include "plan/planner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <random>

#include <map>
#include <set>

#include "core/edit_distance.hpp"
#include "plan/chunking.hpp"
#include "plan/dependencies.hpp"
#include "plan/keys.hpp"
#include "plan/new_keys.hpp"
#include "plan/query_tables.hpp"
#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

using Name = std::pair<std::string, std::string>;

struct Problems {
  std::vector<std::string> lines;
  void add(std::string line) { lines.push_back(std::move(line)); }
  void throw_if_any() const {
    if (lines.empty()) return;
    throw usage_error(fmt::format("the target cannot take this copy as it is:\n  - {}", fmt::join(lines, "\n  - ")),
                      "", "fix the target's schema, or leave the tables out with -T");
  }
};

// Where a source table's rows go: its namesake, or, for a partition whose namesake is not the
// same partition of the same partitioned table, the target's partitioned table (which routes).
const Relation* resolve_destination(const Relation& src, const std::map<Name, const Relation*>& targets,
                                    const mapping::TableMapping* mapped) {
  auto find = [&](const std::string& s, const std::string& n) -> const Relation* {
    auto it = targets.find({s, n});
    return it == targets.end() ? nullptr : it->second;
  };
  if (mapped && !mapped->target.empty()) {
    auto [schema, name] = mapping::split_name(mapped->target);
    return find(schema, name);
  }
  const Relation* same = find(src.schema, src.name);
  if (!src.is_partition) return same;
  if (same && same->is_partition && same->root_schema == src.root_schema && same->root_name == src.root_name &&
      same->partition_bound == src.partition_bound) {
    return same;
  }
  const Relation* root = find(src.root_schema, src.root_name);
  return root ? root : same;
}

// Types whose input rounds a value to the column's modifier instead of refusing it (numeric
// scale, fractional seconds); varchar(n) and char(n) refuse, and a cast to them would cut.
bool rounds_to_modifier(const Column& target) {
  static const std::set<std::string> kRounding{"pg_catalog.numeric", "pg_catalog.timestamp", "pg_catalog.timestamptz",
                                               "pg_catalog.time", "pg_catalog.timetz"};
  return kRounding.contains(target.type) && target.display_type.find('(') != std::string::npos;
}

// A char(n) target pads to n a value the source does not keep so (a varchar, a text, a char
// of another length): the n the source reads it padded to (TargetColumn::padded_to), or 0.
int pads_to(const Column& source, const Column& target) {
  return target.padded_chars > 0 && source.display_type != target.display_type ? target.padded_chars : 0;
}

// How the target stores a column's value otherwise than the source holds it.
struct StoredAs {
  std::string type;  // read on the source as this type
  bool rescaled = false;
  int padded_to = 0;
};

// With rescaled or padded columns, every column gets its rule (see TargetColumn::rescaled).
void rule_stored_as(TableCopy& copy, const std::map<std::string, StoredAs>& stored) {
  if (stored.empty()) return;
  for (const auto& name : copy.columns) {
    auto r = stored.find(name);
    if (r == stored.end()) {
      copy.column_rules.push_back({name, mapping::PassThrough{name}});
    } else {
      copy.column_rules.push_back({name, mapping::Cast{name, r->second.type}, r->second.rescaled, r->second.padded_to});
    }
  }
}

// Matches columns by name; types must agree, or be of one family, which sends the table as
// text. Columns are listed in the target's order.
void match_columns(const Relation& src, const Relation& dest, TableCopy& copy, Problems& problems,
                   std::vector<std::string>& warnings) {
  std::map<std::string, StoredAs> stored;  // by column
  for (const auto& c : src.columns) {
    const Column* tc = dest.column(c.name);
    if (!tc && !c.generated) {
      problems.add(fmt::format("column \"{}\" of {} does not exist in {} on the target", c.name, src.qualified(),
                               dest.qualified()));
    }
  }
  for (const auto& tc : dest.columns) {
    const Column* c = src.column(tc.name);
    if (!c) {
      if (tc.not_null && !tc.has_default && !tc.identity && !tc.generated) {
        problems.add(fmt::format("column \"{}\" of {} on the target is NOT NULL without a default, and the source "
                                 "has no such column",
                                 tc.name, dest.qualified()));
      }
      continue;
    }
    if (tc.generated) continue;  // the target computes it
    if (c->type != tc.type) {
      if (c->category != tc.category) {
        problems.add(fmt::format("column \"{}\" of {} is {} on the source but {} on the target", c->name,
                                 src.qualified(), c->display_type, tc.display_type));
        continue;
      }
      copy.format = CopyFormat::Text;
      copy.text_reason = fmt::format("column \"{}\" is {} on the source, {} on the target", c->name,
                                     c->display_type, tc.display_type);
      warnings.push_back(fmt::format("{}: {}; copied as text", src.qualified(), copy.text_reason));
    } else if (c->display_type != tc.display_type && rounds_to_modifier(tc)) {
      stored[tc.name] = {tc.display_type, true};
    }
    if (int n = pads_to(*c, tc)) stored[tc.name] = {tc.type, false, n};
    copy.columns.push_back(tc.name);
  }
  rule_stored_as(copy, stored);
}

// Every constant remap of the columns named `column`, in file order.
std::vector<mapping::ConstantRemap> remaps_of(const mapping::Mapping& all, const std::string& column) {
  std::vector<mapping::ConstantRemap> out;
  for (const auto& r : all.remaps) {
    if (std::find(r.columns.begin(), r.columns.end(), column) != r.columns.end()) out.push_back({r.from, r.to});
  }
  return out;
}

// With a mapping entry: each target column's value from the mapping, else from the source
// column of its name; every source column is taken by some target column or dropped. Each
// value is cast to the target column's type on the source, so binary COPY stays usable (a
// user-defined type travels as text, its name being the target's).
// Returns the source columns the entry takes or drops: one of several entries for a source
// table (a list) need not take every column; the caller checks that one of them does.
std::set<std::string> match_mapped_columns(const Relation& src, const Relation& dest, const mapping::TableMapping& m,
                                           const mapping::Mapping& all, TableCopy& copy, Problems& problems) {
  std::set<std::string> taken(m.drop.begin(), m.drop.end());
  for (const auto& d : m.drop) {
    if (!src.column(d)) problems.add(fmt::format("{}: 'drop' names column \"{}\", which {} does not have", m.location, d, src.qualified()));
  }
  for (const auto& [name, cm] : m.columns) {
    if (!dest.column(name)) {
      problems.add(fmt::format("{}: column \"{}\" does not exist in {} on the target", cm.where, name, dest.qualified()));
    }
    if (!cm.from.empty() && !src.column(cm.from)) {
      problems.add(fmt::format("{}: 'from' names column \"{}\", which {} does not have", cm.where, cm.from, src.qualified()));
    }
  }
  for (const auto& tc : dest.columns) {
    if (tc.generated) continue;
    auto mapped = m.columns.find(tc.name);
    bool built_in = tc.type.starts_with("pg_catalog.");
    // The type without its modifier where a cast would cut silently (varchar(n)): the target
    // applies its own and refuses what does not fit. Where the target rounds (numeric(p,s)),
    // the value is read as it will be stored, and verification counts what the rounding changes.
    bool rounds = built_in && rounds_to_modifier(tc);
    std::string type = !built_in ? "text" : rounds ? tc.display_type : tc.type;
    mapping::ColumnSource rule;
    if (mapped != m.columns.end()) {
      const auto& cm = mapped->second;
      if (!cm.from.empty()) taken.insert(cm.from);
      // A remap reaches a renamed column under either name; a column with an expression or a
      // value map of its own would be ambiguous, so the plan refuses rather than skip it.
      bool named = all.remaps_column(tc.name) || (!cm.from.empty() && all.remaps_column(cm.from));
      if (named && (!cm.expr.empty() || !cm.values.empty())) {
        problems.add(fmt::format("{}: column \"{}\" has an expression or value map of its own, and a 'remap' names "
                                 "it: write the remap into its expression or map, or take the column out of the "
                                 "remap's columns",
                                 cm.where, tc.name));
      }
      if (!cm.values.empty()) {
        rule = mapping::ValueMap{cm.from, cm.expr, cm.values, cm.otherwise, tc.name, type};
      } else if (!cm.expr.empty()) {
        rule = mapping::Expression{cm.expr, type};
      } else {
        rule = mapping::Cast{cm.from, type, remaps_of(all, all.remaps_column(tc.name) ? tc.name : cm.from)};
      }
    } else if (const Column* c = src.column(tc.name); c && !taken.contains(tc.name)) {
      if (c->type == tc.type && !all.remaps_column(tc.name) && !pads_to(*c, tc) &&
          (c->display_type == tc.display_type || !rounds_to_modifier(tc))) {  // as it is: its binary form is the target's
        rule = mapping::PassThrough{tc.name};
      } else {
        rule = mapping::Cast{tc.name, type, remaps_of(all, tc.name)};
      }
    } else {
      if (tc.not_null && !tc.has_default && !tc.identity) {
        problems.add(fmt::format("{}: column \"{}\" of {} on the target is NOT NULL without a default, and the mapping "
                                 "gives it no value",
                                 m.location, tc.name, dest.qualified()));
      }
      continue;
    }
    taken.insert(tc.name);
    if (!built_in && !std::holds_alternative<mapping::PassThrough>(rule)) {
      copy.format = CopyFormat::Text;
      copy.text_reason = fmt::format("mapped column \"{}\" is of the user-defined type {}", tc.name, tc.display_type);
    }
    bool computed = !std::holds_alternative<mapping::PassThrough>(rule);
    bool rescaled = rounds && computed;
    int padded_to = computed ? tc.padded_chars : 0;
    copy.columns.push_back(tc.name);
    copy.column_rules.push_back({tc.name, std::move(rule), rescaled, padded_to});
  }
  copy.filter = m.where;
  return taken;
}

// Every source column goes somewhere (a target column takes it, or 'drop' lists it): in the
// table's one entry, or in one of its list's entries.
void require_every_column_taken(const Relation& src, const std::set<std::string>& taken, const std::string& location,
                                bool several, Problems& problems) {
  for (const auto& c : src.columns) {
    if (!taken.contains(c.name) && !c.generated) {
      problems.add(fmt::format("{}: column \"{}\" of {} goes nowhere: no target column {}takes it (by name or 'from'); "
                               "list it under 'drop' to leave it out",
                               location, c.name, src.qualified(), several ? "of any of its entries " : ""));
    }
  }
}

// The mapped SELECT runs once on the source (no row) before anything is written, so a wrong
// expression, cast, filter or scope value (a literal its column's type refuses) is named now,
// not in the middle of the night. One statement (the extended protocol), in the snapshot's
// read-only transaction.
void try_mapped_select(pg::Connection& source, const TableCopy& copy, Problems& problems) {
  source.exec("SAVEPOINT pgblit_mapping");
  try {
    source.exec_one(source_rows_sql(copy) + " LIMIT 0", copy.source);
    source.exec("RELEASE SAVEPOINT pgblit_mapping");
  } catch (const Error& e) {
    source.exec("ROLLBACK TO SAVEPOINT pgblit_mapping");
    problems.add(fmt::format("the mapping of {} does not run on the source: {}", copy.source, e.what()));
  }
}

// A scope whose column no selected table has scopes nothing: every tenant's rows would be
// copied. Refused, naming the nearest column name there is (orgid for org_id).
void require_scope_column(const mapping::Scope& scope, const std::vector<const Relation*>& sources) {
  std::string nearest;
  size_t best = 3;  // at most two letters off
  for (const Relation* r : sources) {
    for (const auto& c : r->columns) {
      if (c.name == scope.column) return;
      if (size_t d = edit_distance(c.name, scope.column); d < best) best = d, nearest = c.name;
    }
  }
  throw usage_error(fmt::format("{}: no selected table has the scope's column \"{}\", so the scope would keep every "
                                "row of every tenant{}",
                                scope.location, scope.column,
                                nearest.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", nearest)),
                    scope.column, "name a column the tenant's tables have in scope: {column: ...}");
}

// The run-wide scope: a table with the scope's column keeps its rows with that value; a table
// without it keeps the rows whose parent, through a foreign key on the source to a scoped
// table, is kept (a semi-join along the path); a table with neither is copied whole, and the
// plan says so. A table's own `where` is kept beside.
void apply_scope(pg::Connection& source, const mapping::Scope& scope, const std::vector<const Relation*>& sources,
                 Plan& plan) {
  std::map<Oid, size_t> index_of;
  std::vector<Oid> oids;
  for (size_t i = 0; i < sources.size(); ++i) {
    index_of[sources[i]->oid] = i;
    oids.push_back(sources[i]->oid);
  }
  std::vector<std::string> oid_texts;
  for (Oid o : oids) oid_texts.push_back(std::to_string(o));
  auto fks = source.exec_params(R"(
SELECT c.conrelid::int8, c.confrelid::int8, c.conname,
       ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)::text[]
FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY ($1::oid[]) AND c.confrelid = ANY ($1::oid[])
  AND c.conrelid <> c.confrelid ORDER BY c.conname)",
                                {pg::text_array_literal(oid_texts)}, "foreign keys");
  std::vector<std::optional<std::pair<std::string, std::string>>> scoped(sources.size());  // (filter, why)
  std::vector<bool> visiting(sources.size());
  std::function<const std::optional<std::pair<std::string, std::string>>&(size_t)> filter_of = [&](size_t i) -> const auto& {
    if (scoped[i] || visiting[i]) return scoped[i];
    visiting[i] = true;
    if (sources[i]->column(scope.column)) {
      scoped[i] = {fmt::format("{} = {}", pg::quote_ident(scope.column), pg::quote_literal(scope.value)),
                   fmt::format("scope: its {} column", scope.column)};
      return scoped[i];
    }
    std::vector<std::string> conditions, paths;
    for (int r = 0; r < fks.rows(); ++r) {
      if (static_cast<Oid>(fks.int64(r, 0)) != sources[i]->oid) continue;  // a source may feed several tables
      size_t parent = index_of.at(static_cast<Oid>(fks.int64(r, 1)));
      const auto& parent_filter = filter_of(parent);
      if (!parent_filter) continue;
      conditions.push_back(fmt::format("({}) IN (SELECT {} FROM ONLY {} WHERE {})", fmt::join(fks.text_array(r, 3), ", "),
                                       fmt::join(fks.text_array(r, 4), ", "), plan.tables[parent].source,
                                       parent_filter->first));
      paths.push_back(fmt::format("foreign key {} to {}", fks.text(r, 2), plan.tables[parent].source));
    }
    if (!conditions.empty()) {
      scoped[i] = {fmt::format("{}", fmt::join(conditions, " AND ")),
                   fmt::format("scope: rows whose parent is kept, through {}", fmt::join(paths, " and "))};
    }
    return scoped[i];
  };
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    auto& table = plan.tables[i];
    const auto& scope_filter = filter_of(i);
    if (!scope_filter) {
      if (!table.filter.empty()) continue;  // its own where says which rows
      plan.warnings.push_back(fmt::format("{} is not scoped: no {} column and no foreign key to a scoped table; all its "
                                          "rows are copied",
                                          table.source, scope.column));
      continue;
    }
    table.filter_reason = table.filter.empty() ? scope_filter->second : "its where, and " + scope_filter->second;
    table.filter = table.filter.empty() ? scope_filter->first : "(" + table.filter + ") AND " + scope_filter->first;
  }
}

// Why the plan's load order cannot be kept, when its foreign keys form a cycle.
std::optional<std::string> foreign_key_cycle(const Plan& plan) {
  std::vector<std::vector<size_t>> depends_on;
  for (const auto& t : plan.tables) depends_on.push_back(t.depends_on);
  auto cycle = find_dependency_cycle(depends_on);
  if (cycle.empty()) return std::nullopt;
  std::vector<std::string> names;
  for (size_t i : cycle) names.push_back(plan.tables[i].target);
  return fmt::format("foreign keys on the target form a cycle ({}); use --disable-triggers (superuser), "
                     "or drop those constraints for the copy and re-create them after",
                     fmt::join(names, " -> "));
}

// Returns the tables whose target references itself: those are not split, since a row may
// reference a row of a chunk not loaded yet. `deferring`: the caller drops the foreign keys of
// empty tables for the load, so a cycle among them is no problem; it checks what stays.
std::set<size_t> order_by_foreign_keys(pg::Connection& target, const std::map<Oid, std::vector<size_t>>& tables_by_dest,
                                       Plan& plan, Problems& problems, bool deferring) {
  std::vector<Oid> dests;
  for (const auto& [oid, _] : tables_by_dest) dests.push_back(oid);
  std::vector<std::vector<size_t>> depends_on(plan.tables.size());
  std::set<size_t> self_referencing;
  for (const auto& [referencing, referenced] : read_foreign_keys_between(target, dests)) {
    if (referencing == referenced) {
      for (size_t i : tables_by_dest.at(referencing)) self_referencing.insert(i);
      continue;
    }
    for (size_t i : tables_by_dest.at(referencing)) {
      for (size_t j : tables_by_dest.at(referenced)) depends_on[i].push_back(j);
    }
  }
  for (size_t i = 0; i < depends_on.size(); ++i) plan.tables[i].depends_on = std::move(depends_on[i]);
  if (!deferring) {
    if (auto cycle = foreign_key_cycle(plan)) problems.add(*cycle);
  }
  return self_referencing;
}

// Every source table must be readable by the source role: found now, not after other tables
// loaded.
void require_readable(pg::Connection& source, const std::vector<const Relation*>& sources, const Plan& plan) {
  std::vector<std::pair<Oid, std::vector<std::string>>> reads;
  for (size_t i = 0; i < sources.size(); ++i) reads.emplace_back(sources[i]->oid, plan.tables[i].columns);
  auto unreadable = read_unreadable(source, reads);
  if (unreadable.empty()) return;
  std::vector<std::string> names;
  for (size_t i : unreadable) names.push_back(plan.tables[i].source);
  throw usage_error(fmt::format("the source role may not read {}: no SELECT privilege", fmt::join(names, ", ")),
                    names[0], fmt::format("GRANT SELECT ON {} TO the source role, or leave them out with -T",
                                          fmt::join(names, ", ")));
}

// The source is read whole or not at all: a table that row-level security filters for the
// source role would be copied (and verified, through the same filter) as a subset.
void require_unfiltered(pg::Connection& source, const std::vector<Relation>& sources) {
  std::vector<Oid> oids;
  for (const auto& s : sources) oids.push_back(s.oid);
  auto filtered = read_row_security_filtered(source, oids);
  if (filtered.empty()) return;
  std::vector<std::string> names;
  for (size_t i : filtered) names.push_back(sources[i].qualified());
  std::string role = source.exec("SELECT quote_ident(current_user)", "role").text(0, 0);
  throw usage_error(
      fmt::format("row-level security filters what the source role {} may read of {}: a copy would move only the "
                  "rows its policies let through",
                  role, fmt::join(names, ", ")),
      names[0],
      fmt::format("ALTER ROLE {} BYPASSRLS (as a superuser), or connect --source as the owner of {} (a table with "
                  "FORCE ROW LEVEL SECURITY needs BYPASSRLS or a superuser), or leave it out with -T",
                  role, fmt::join(names, ", ")));
}

// A source table with no table of its name on the target: missing, or something else there.
void report_missing_destination(const Relation& src, const std::map<Name, std::string>& target_non_tables,
                                Problems& problems) {
  Name name = src.is_partition ? Name{src.root_schema, src.root_name} : Name{src.schema, src.name};
  auto other = target_non_tables.find(name);
  if (other != target_non_tables.end()) {
    problems.add(fmt::format("{} is a table on the source but {} on the target, which cannot be loaded",
                             src.qualified_root(), other->second));
  } else {
    problems.add(fmt::format("table {} does not exist on the target", src.qualified_root()));
  }
}

// What the planner knows of each plan table besides the plan itself.
struct Placement {
  const std::vector<const Relation*>& sources;       // beside plan.tables
  const std::vector<Oid>& destinations;              // beside plan.tables
  const std::map<Oid, std::vector<size_t>>& tables_by_dest;
  const std::set<size_t>& self_referencing;          // kept whole
};

// Each table's key (for chunk ranges, digests and bisection) and its chunks; and whether the
// target can read a chunk's range back by index, which decides verification chunk by chunk.
void cut_into_chunks(pg::Connection& source, pg::Connection& target, const Placement& placement,
                     const PlanOptions& options, Plan& plan) {
  std::vector<Oid> source_oids;
  for (const Relation* s : placement.sources) source_oids.push_back(s->oid);
  auto keys = read_table_keys(source, source_oids);
  std::vector<std::pair<Oid, std::vector<std::string>>> target_keys;
  size_t tables = placement.sources.size();  // those of source tables (a query's are cut apart)
  for (size_t i = 0; i < tables; ++i) {
    auto key = keys.find(placement.sources[i]->oid);
    target_keys.emplace_back(placement.destinations[i],
                             key == keys.end() ? std::vector<std::string>{} : key->second.columns);
  }
  std::vector<bool> target_indexed = read_key_indexed(target, target_keys);
  for (size_t i = 0; i < tables; ++i) {
    auto& table = plan.tables[i];
    auto key = keys.find(placement.sources[i]->oid);
    const TableKey* table_key = key == keys.end() ? nullptr : &key->second;
    if (table_key) {
      table.key = table_key->columns;
      table.key_types = table_key->types;
      table.key_nullable = table_key->nullable;
      table.key_index = table_key->index;
      for (const auto& k : table.key) {
        // Where the row carries the key: the column that takes it, whatever the target calls it
        // (task_id: {from: id}), else the target column of its name (id: {expr: "9001"}).
        auto at = table.columns.end();
        for (size_t c = 0; c < table.column_rules.size() && at == table.columns.end(); ++c) {
          if (mapping::carried_column(table.column_rules[c].source) == k) at = table.columns.begin() + static_cast<long>(c);
        }
        if (at == table.columns.end()) at = std::find(table.columns.begin(), table.columns.end(), k);
        table.key_fields.push_back(at == table.columns.end() ? -1 : static_cast<int>(at - table.columns.begin()));
      }
    }
    auto chunked = chunk_table(source, *placement.sources[i], table_key, options.chunk_bytes,
                               placement.self_referencing.count(i) ? "its target has a self-referencing foreign key" : "");
    table.chunking = chunked.method;
    bool whole = chunked.chunks.size() == 1 && chunked.chunks[0].predicate.empty();
    // A mapped key (renamed, computed or given new values) means other values, or other names,
    // on the target: compare whole tables.
    bool key_mapped = false;
    for (size_t k = 0; k < table.key.size() && table.mapped(); ++k) {
      if (table.key_fields[k] < 0) {
        key_mapped = true;
        continue;
      }
      const auto& rule = table.column_rules[static_cast<size_t>(table.key_fields[k])];
      const auto* same = std::get_if<mapping::PassThrough>(&rule.source);
      const auto* cast = std::get_if<mapping::Cast>(&rule.source);  // read as the target's type, same values
      key_mapped |= !(same && same->column == table.key[k]) && !(cast && cast->column == table.key[k] && cast->remaps.empty());
    }
    table.key_mapped = key_mapped;
    table.verify_by_chunk = !chunked.by_ctid && !key_mapped &&
                            placement.tables_by_dest.at(placement.destinations[i]).size() == 1 && (whole || target_indexed[i]);
    for (auto& c : chunked.chunks) {
      c.table = i;
      plan.chunks.push_back(std::move(c));
    }
  }
}

}  // namespace

Plan build_plan(pg::Connection& source, pg::Connection& target, const PlanOptions& options) {
  std::vector<Relation> all = read_user_tables(source);
  std::vector<Relation> sources;
  const mapping::Mapping* mapping = options.mapping;
  auto mapped = [&](const Relation& r) { return mapping ? mapping->find(r.schema, r.name) : nullptr; };
  for (const Relation* r : select_tables(all, options.selection)) {
    if (auto m = mapped(*r); !m || !m->skip) sources.push_back(*r);
  }
  require_unfiltered(source, sources);
  read_columns(source, sources);

  std::vector<Name> wanted;
  for (const auto& s : sources) {
    wanted.emplace_back(s.schema, s.name);
    if (s.is_partition) wanted.emplace_back(s.root_schema, s.root_name);
    if (!mapping) continue;
    for (const auto* m : mapping->entries_of(s.schema, s.name)) {
      if (!m->target.empty()) wanted.push_back(mapping::split_name(m->target));
    }
  }
  if (mapping) {
    for (const auto& q : mapping->queries) wanted.push_back(mapping::split_name(q.target));
  }
  std::vector<Relation> target_relations = read_tables_named(target, wanted);
  read_columns(target, target_relations);
  std::map<Name, const Relation*> targets;
  for (const auto& t : target_relations) targets[{t.schema, t.name}] = &t;
  std::map<Name, std::string> target_non_tables;  // read only when a table is missing

  std::vector<Oid> source_oids;
  for (const auto& s : sources) source_oids.push_back(s.oid);
  std::vector<Oid> embeds = read_tables_embedding_type_oids(source, source_oids);

  Plan plan;
  Problems problems;
  std::map<Oid, std::vector<size_t>> tables_by_dest;
  std::set<std::string> schemas;
  std::vector<const Relation*> table_sources;  // beside plan.tables
  std::vector<Oid> table_destinations;         // beside plan.tables
  std::vector<const Relation*> table_dest_relations;  // beside plan.tables
  std::deque<mapping::TableMapping> passthrough;  // entries for tables only the remaps touch
  std::vector<const mapping::TableMapping*> table_entries;  // beside plan.tables
  for (const auto& src : sources) {
    std::vector<const mapping::TableMapping*> entries;
    if (mapping) entries = mapping->entries_of(src.schema, src.name);
    // A table the mapping does not name still takes its remaps, through an empty entry.
    if (entries.empty() && mapping && !mapping->remaps.empty() &&
        std::any_of(src.columns.begin(), src.columns.end(), [&](const Column& c) { return mapping->remaps_column(c.name); })) {
      auto& entry = passthrough.emplace_back();
      entry.source = fmt::format("{}.{}", src.schema, src.name);
      entry.location = mapping->file + " (remap)";
      entries.push_back(&entry);
    }
    if (entries.empty()) entries.push_back(nullptr);
    std::set<std::string> taken;  // over the entries of a list
    for (const auto* table_mapping : entries) {
    const Relation* dest = resolve_destination(src, targets, table_mapping);
    if (!dest && table_mapping && !table_mapping->target.empty()) {
      problems.add(fmt::format("{}: target table {} does not exist on the target", table_mapping->location,
                               table_mapping->target));
      continue;
    }
    if (!dest) {
      if (target_non_tables.empty()) target_non_tables = read_non_tables_named(target, wanted);
      report_missing_destination(src, target_non_tables, problems);
      continue;
    }
    TableCopy copy;
    copy.source = src.qualified();
    copy.target = dest->qualified();
    copy.target_partitioned = dest->kind == 'p';
    copy.estimated_bytes = src.bytes;
    copy.estimated_rows = src.estimated_rows;
    if (std::find(embeds.begin(), embeds.end(), src.oid) != embeds.end()) {
      copy.format = CopyFormat::Text;
      copy.text_reason = "its binary form holds user-defined type OIDs (arrays or composites) that differ between servers";
    }
    if (table_mapping) {
      auto entry_taken = match_mapped_columns(src, *dest, *table_mapping, *mapping, copy, problems);
      taken.insert(entry_taken.begin(), entry_taken.end());
    } else {
      match_columns(src, *dest, copy, problems, plan.warnings);
    }
    tables_by_dest[dest->oid].push_back(plan.tables.size());
    schemas.insert(src.schema);
    plan.tables.push_back(std::move(copy));
    table_sources.push_back(&src);
    table_destinations.push_back(dest->oid);
    table_dest_relations.push_back(dest);
    table_entries.push_back(table_mapping);
    }
    if (entries.front()) {
      require_every_column_taken(src, taken, entries.size() > 1 ? mapping->file + ": " + entries.front()->source
                                                                : entries.front()->location,
                                 entries.size() > 1, problems);
    }
  }
  if (mapping) {  // every table the mapping names must be among the selected source tables
    for (const auto& m : mapping->tables) {
      auto [schema, name] = mapping::split_name(m.source);
      bool found = std::any_of(all.begin(), all.end(), [&](const Relation& r) { return r.schema == schema && r.name == name; });
      if (!found) problems.add(fmt::format("{}: source table {} does not exist", m.location, m.source));
    }
  }
  problems.throw_if_any();
  if (mapping && mapping->scope) {
    require_scope_column(*mapping->scope, table_sources);
    apply_scope(source, *mapping->scope, table_sources, plan);
  }
  if (mapping) {
    for (const auto& t : plan.tables) {
      if (t.mapped() || !t.filter.empty()) try_mapped_select(source, t, problems);
    }
    problems.throw_if_any();
    apply_new_keys(source, target, table_entries, table_sources, table_dest_relations, plan, problems.lines);
    problems.throw_if_any();
    add_query_tables(source, *mapping, targets, plan, tables_by_dest, problems.lines);
    problems.throw_if_any();
    for (size_t i = table_sources.size(); i < plan.tables.size(); ++i) try_mapped_select(source, plan.tables[i], problems);
    problems.throw_if_any();
  }
  for (auto& t : plan.tables) {
    if (!t.filter.empty() && t.filter_reason.empty()) t.filter_reason = "its where in the mapping";
  }
  require_readable(source, table_sources, plan);
  std::set<size_t> self_referencing;
  if (!options.disable_triggers) {
    self_referencing = order_by_foreign_keys(target, tables_by_dest, plan, problems, options.foreign_keys_deferred);
  }
  if (options.split_self_referencing) self_referencing.clear();
  problems.throw_if_any();

  plan.schemas.assign(schemas.begin(), schemas.end());
  cut_into_chunks(source, target, {table_sources, table_destinations, tables_by_dest, self_referencing}, options, plan);
  cut_query_tables(source, table_sources.size(), options.chunk_bytes, plan);
  return plan;
}

void require_load_order(const Plan& plan) {
  if (auto cycle = foreign_key_cycle(plan)) throw usage_error(*cycle);
}

}  // namespace pgblit::plan
