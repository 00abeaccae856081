// See deferred.hpp.
#include "target/deferred.hpp"

#include <fmt/format.h>

#include <map>

#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

std::vector<std::string> quoted(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(pg::quote_ident(n));
  return out;
}

struct TableFacts {
  char kind = 'r';
  bool owned = false;
  bool may_create = false;  // CREATE on its schema: an index is created there
  bool in_run = false;
  bool prefilled = false;
  int64_t bytes = 0;
  bool eligible() const { return in_run && !prefilled && kind == 'r' && owned && may_create; }
  std::string why_not() const {
    if (prefilled) return "its table held rows before the run";
    if (kind != 'r') return "its table is partitioned (the index tree stays whole)";
    if (!owned) return "the target role does not own its table";
    return "the target role may not create indexes in its schema (GRANT CREATE ON SCHEMA)";
  }
};

struct IndexRow {
  DeferredObject object;
  int64_t oid = 0;
  bool in_tree = false;
};

struct ForeignKeyRow {
  DeferredObject object;
  int64_t index_oid = 0;  // the unique index it relies on
  bool deferrable = false;
  std::string why_not;
};

std::vector<IndexRow> read_indexes(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(R"(
WITH tables AS (SELECT t::regclass::oid AS oid FROM unnest($1::text[]) t)
SELECT n.nspname, ic.relname, tn.nspname, tc.relname, pg_get_indexdef(i.indexrelid),
       COALESCE(con.contype::text, ''), COALESCE(con.conname, ''), COALESCE(pg_get_constraintdef(con.oid), ''),
       COALESCE(con.condeferrable, false), COALESCE(con.condeferred, false), COALESCE(ts.spcname, ''),
       COALESCE(obj_description(i.indexrelid, 'pg_class'), ''), COALESCE(obj_description(con.oid, 'pg_constraint'), ''),
       i.indisclustered, i.indisreplident,
       EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid OR h.inhparent = i.indexrelid)
         OR COALESCE(con.conparentid <> 0, false),
       CASE WHEN i.indexprs IS NULL THEN
         ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)::text[] END,
       i.indexrelid::int8
FROM tables JOIN pg_index i ON i.indrelid = tables.oid
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
ORDER BY tn.nspname, tc.relname, ic.relname)",
                              {pg::text_array_literal(tables)}, "indexes");
  std::vector<IndexRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    IndexRow row;
    auto& o = row.object;
    o.schema = pg::quote_ident(r.text(i, 0));
    o.table = pg::qualified_name(r.text(i, 2), r.text(i, 3));
    o.index_definition = r.text(i, 4);
    std::string contype = r.text(i, 5);
    o.kind = contype.empty() ? ObjectKind::Index : ObjectKind::Constraint;
    o.constraint_type = contype.empty() ? 0 : contype[0];
    o.name = pg::quote_ident(contype.empty() ? r.text(i, 1) : r.text(i, 6));
    o.constraint_definition = r.text(i, 7);
    o.deferrable = r.boolean(i, 8);
    o.initially_deferred = r.boolean(i, 9);
    o.tablespace = r.text(i, 10).empty() ? "" : pg::quote_ident(r.text(i, 10));
    o.index_comment = r.text(i, 11);
    o.constraint_comment = r.text(i, 12);
    o.clustered = r.boolean(i, 13);
    o.replica_identity = r.boolean(i, 14);
    row.in_tree = r.boolean(i, 15);
    if (!r.is_null(i, 16)) o.columns = quoted(r.text_array(i, 16));
    row.oid = r.int64(i, 17);
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<ForeignKeyRow> read_foreign_keys(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(R"(
WITH tables AS (SELECT t::regclass::oid AS oid FROM unnest($1::text[]) t)
SELECT con.conname, rn.nspname, r.relname, r.relkind::text, fn.nspname, f.relname, f.relkind::text,
       pg_get_constraintdef(con.oid), con.convalidated, con.conindid::int8, con.conparentid <> 0,
       COALESCE(obj_description(con.oid, 'pg_constraint'), ''),
       pg_has_role(r.relowner, 'USAGE') AND has_table_privilege(f.oid, 'REFERENCES'),
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
FROM pg_constraint con
JOIN pg_class r ON r.oid = con.conrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
JOIN pg_class f ON f.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
WHERE con.contype = 'f' AND (con.conrelid IN (SELECT oid FROM tables) OR con.confrelid IN (SELECT oid FROM tables))
ORDER BY rn.nspname, r.relname, con.conname)",
                              {pg::text_array_literal(tables)}, "foreign keys");
  std::vector<ForeignKeyRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    ForeignKeyRow row;
    auto& o = row.object;
    o.kind = ObjectKind::ForeignKey;
    o.constraint_type = 'f';
    o.name = pg::quote_ident(r.text(i, 0));
    o.schema = pg::quote_ident(r.text(i, 1));
    o.table = pg::qualified_name(r.text(i, 1), r.text(i, 2));
    o.referenced = pg::qualified_name(r.text(i, 4), r.text(i, 5));
    o.constraint_definition = r.text(i, 7);
    o.validated = r.boolean(i, 8);
    row.index_oid = r.int64(i, 9);
    o.constraint_comment = r.text(i, 11);
    o.columns = quoted(r.text_array(i, 13));
    o.referenced_columns = quoted(r.text_array(i, 14));
    if (r.text(i, 3) != "r" || r.text(i, 6) != "r" || r.boolean(i, 10)) {
      row.why_not = "it is part of a partitioned table's foreign key";
    } else if (!r.boolean(i, 12)) {
      row.why_not = "the target role does not own its table (or may not reference the other)";
    }
    row.deferrable = row.why_not.empty();
    out.push_back(std::move(row));
  }
  return out;
}

std::map<std::string, TableFacts> read_table_facts(pg::Connection& target, const std::vector<std::string>& names) {
  auto r = target.exec_params(R"(
SELECT t, c.relkind::text, pg_has_role(c.relowner, 'USAGE'), has_schema_privilege(c.relnamespace, 'CREATE')
FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = t::regclass::oid)",
                              {pg::text_array_literal(names)}, "tables");
  std::map<std::string, TableFacts> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = {r.text(i, 1)[0], r.boolean(i, 2), r.boolean(i, 3)};
  return out;
}

}  // namespace

const char* to_string(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::Index: return "index";
    case ObjectKind::Constraint: return "constraint";
    case ObjectKind::ForeignKey: return "foreign key";
    case ObjectKind::Script: return "script";
  }
  return "object";
}

std::string DeferredObject::describe() const {
  if (kind == ObjectKind::Script) return "the post-data of the created schema (" + name + ")";
  const char* what = kind == ObjectKind::Index        ? "index"
                     : constraint_type == 'p'         ? "primary key"
                     : constraint_type == 'u'         ? "unique constraint"
                     : constraint_type == 'x'         ? "exclusion constraint"
                                                      : "foreign key";
  return fmt::format("{} {} on {}", what, name, table);
}

nlohmann::json to_json(const DeferredObject& o) {
  return {{"kind", to_string(o.kind)},
          {"name", o.name},
          {"schema", o.schema},
          {"table", o.table},
          {"referenced", o.referenced},
          {"constraint_type", std::string(o.constraint_type ? 1 : 0, o.constraint_type)},
          {"index_definition", o.index_definition},
          {"constraint_definition", o.constraint_definition},
          {"deferrable", o.deferrable},
          {"initially_deferred", o.initially_deferred},
          {"validated", o.validated},
          {"tablespace", o.tablespace},
          {"index_comment", o.index_comment},
          {"constraint_comment", o.constraint_comment},
          {"clustered", o.clustered},
          {"replica_identity", o.replica_identity},
          {"columns", o.columns},
          {"referenced_columns", o.referenced_columns},
          {"table_bytes", o.table_bytes},
          {"script", o.script}};
}

DeferredObject object_from_json(const nlohmann::json& j) {
  DeferredObject o;
  std::string kind = j.at("kind");
  o.kind = kind == "index"        ? ObjectKind::Index
           : kind == "constraint" ? ObjectKind::Constraint
           : kind == "script"     ? ObjectKind::Script
                                  : ObjectKind::ForeignKey;
  o.name = j.at("name");
  o.schema = j.at("schema");
  o.table = j.at("table");
  o.referenced = j.at("referenced");
  std::string type = j.at("constraint_type");
  o.constraint_type = type.empty() ? 0 : type[0];
  o.index_definition = j.at("index_definition");
  o.constraint_definition = j.at("constraint_definition");
  o.deferrable = j.at("deferrable");
  o.initially_deferred = j.at("initially_deferred");
  o.validated = j.at("validated");
  o.tablespace = j.at("tablespace");
  o.index_comment = j.at("index_comment");
  o.constraint_comment = j.at("constraint_comment");
  o.clustered = j.at("clustered");
  o.replica_identity = j.at("replica_identity");
  o.columns = j.at("columns").get<std::vector<std::string>>();
  o.referenced_columns = j.at("referenced_columns").get<std::vector<std::string>>();
  o.table_bytes = j.at("table_bytes");
  o.script = j.value("script", "");
  return o;
}

Deferral plan_deferral(pg::Connection& target, const plan::Plan& plan, const std::set<std::string>& prefilled) {
  auto names = plan.target_tables();
  auto facts = read_table_facts(target, names);
  for (const auto& t : plan.tables) {
    auto& f = facts[t.target];
    f.in_run = true;
    f.prefilled = prefilled.count(t.target) > 0;
    f.bytes += t.estimated_bytes;
  }
  auto indexes = read_indexes(target, names);
  auto foreign_keys = read_foreign_keys(target, names);
  Deferral deferral;
  std::map<int64_t, IndexRow*> candidates;  // by index oid
  std::set<std::string> reported;           // tables whose objects all stay, said once
  for (auto& row : indexes) {
    const auto& f = facts[row.object.table];
    if (!f.eligible()) {
      if (reported.insert(row.object.table).second) {
        deferral.kept.push_back({row.object.table, "indexes and constraints of " + row.object.table, f.why_not()});
      }
    } else if (row.in_tree) {
      deferral.kept.push_back({row.object.table, row.object.describe(), "it is part of a partitioned index tree"});
    } else {
      row.object.table_bytes = f.bytes;
      candidates[row.oid] = &row;
    }
  }
  // A foreign key that stays keeps the unique index it relies on.
  for (const auto& fk : foreign_keys) {
    auto it = candidates.find(fk.index_oid);
    if (fk.deferrable || it == candidates.end()) continue;
    deferral.kept.push_back({it->second->object.table, it->second->object.describe(),
                             fmt::format("foreign key {} on {} relies on it and stays: {}", fk.object.name,
                                         fk.object.table, fk.why_not)});
    candidates.erase(it);
  }
  for (auto& fk : foreign_keys) {
    bool speeds_a_load = facts.count(fk.object.table) && facts[fk.object.table].eligible();
    bool frees_a_key = candidates.count(fk.index_oid) > 0;
    bool dropped = fk.deferrable && (speeds_a_load || frees_a_key);
    if (dropped) {
      fk.object.table_bytes = facts.count(fk.object.table) ? facts[fk.object.table].bytes : 0;
      deferral.objects.push_back(fk.object);
    } else if (speeds_a_load) {
      deferral.kept.push_back({fk.object.table, fk.object.describe(), fk.why_not});
    }
    // Whatever keeps it (the role, a partition, a table that held rows), a self-reference in
    // place checks each chunk's rows alone: its table must load in one COPY.
    if (!dropped && fk.object.table == fk.object.referenced) deferral.kept_self_references.insert(fk.object.table);
  }
  for (auto& [oid, row] : candidates) deferral.objects.push_back(row->object);
  std::stable_sort(deferral.objects.begin(), deferral.objects.end(), [](const auto& a, const auto& b) {
    return (a.kind == ObjectKind::ForeignKey) > (b.kind == ObjectKind::ForeignKey);
  });
  return deferral;
}

std::string drop_sql(const DeferredObject& o) {
  if (o.kind == ObjectKind::Script) return "";
  if (o.kind == ObjectKind::Index) return fmt::format("DROP INDEX {}.{}", o.schema, o.name);
  return fmt::format("ALTER TABLE {} DROP CONSTRAINT {}", o.table, o.name);
}

void apply_deferral(const Deferral& deferral, plan::Plan& plan) {
  std::set<std::string> indexes_gone;
  std::set<std::pair<std::string, std::string>> links_gone;
  for (const auto& o : deferral.objects) {
    if (o.kind == ObjectKind::ForeignKey) {
      links_gone.insert({o.table, o.referenced});
    } else {
      indexes_gone.insert(o.table);
    }
  }
  std::vector<size_t> chunks(plan.tables.size());
  for (const auto& c : plan.chunks) ++chunks[c.table];
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    auto& t = plan.tables[i];
    // Read back by key range only where an index stays; else the finisher reads it whole.
    if (indexes_gone.count(t.target) && chunks[i] > 1) t.verify_by_chunk = false;
    std::erase_if(t.depends_on, [&](size_t j) { return links_gone.count({t.target, plan.tables[j].target}) > 0; });
  }
}

}  // namespace pgblit::target
