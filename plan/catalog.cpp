// See catalog.hpp.
#include "plan/catalog.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

constexpr const char* kRelationColumns = R"(
SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, c.relispartition,
       COALESCE(pg_get_expr(c.relpartbound, c.oid), ''), COALESCE(rn.nspname, ''), COALESCE(rc.relname, ''),
       ARRAY(SELECT a.relid::oid::int8 FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid::regclass),
       pg_relation_size(c.oid) + COALESCE(pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
       c.reltuples::int8, pg_relation_size(c.oid) / current_setting('block_size')::int,
       COALESCE((st.last_analyze IS NOT NULL OR st.last_autoanalyze IS NOT NULL)
                AND st.n_mod_since_analyze <= 0.1 * GREATEST(c.reltuples, 1), false)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
LEFT JOIN pg_class rc ON c.relispartition AND rc.oid = pg_partition_root(c.oid)
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE c.relkind IN ('r', 'p'))";

std::vector<Relation> relations_from(const pg::Result& r) {
  std::vector<Relation> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    Relation rel;
    rel.oid = r.int64(i, 0);
    rel.schema = r.text(i, 1);
    rel.name = r.text(i, 2);
    rel.kind = r.text(i, 3)[0];
    rel.is_partition = r.boolean(i, 4);
    rel.partition_bound = r.text(i, 5);
    rel.root_schema = r.text(i, 6);
    rel.root_name = r.text(i, 7);
    for (const auto& a : r.text_array(i, 8)) rel.ancestors.push_back(std::stoll(a));
    rel.bytes = r.int64(i, 9);
    rel.estimated_rows = r.int64(i, 10);
    rel.heap_pages = r.int64(i, 11);
    rel.stats_fresh = r.boolean(i, 12);
    out.push_back(std::move(rel));
  }
  return out;
}

}  // namespace

std::string Relation::qualified() const { return pg::qualified_name(schema, name); }

std::string Relation::qualified_root() const {
  return is_partition ? pg::qualified_name(root_schema, root_name) : qualified();
}

const Column* Relation::column(const std::string& column_name) const {
  for (const auto& c : columns) {
    if (c.name == column_name) return &c;
  }
  return nullptr;
}

std::string oid_array_literal(const std::vector<Oid>& oids) {
  std::string out = "{";
  for (size_t i = 0; i < oids.size(); ++i) out += (i ? "," : "") + std::to_string(oids[i]);
  return out + "}";
}

std::vector<Relation> read_user_tables(pg::Connection& conn) {
  std::string sql = std::string(kRelationColumns) + R"(
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgblit')
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname)";
  return relations_from(conn.exec(sql, "user tables"));
}

std::vector<Relation> read_tables_named(pg::Connection& conn,
                                        const std::vector<std::pair<std::string, std::string>>& names) {
  std::vector<std::string> schemas, tables;
  for (const auto& [s, t] : names) {
    schemas.push_back(s);
    tables.push_back(t);
  }
  std::string sql = std::string(kRelationColumns) +
                    "\n  AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))";
  return relations_from(
      conn.exec_params(sql, {pg::text_array_literal(schemas), pg::text_array_literal(tables)}, "tables"));
}

std::map<std::pair<std::string, std::string>, std::string> read_non_tables_named(
    pg::Connection& conn, const std::vector<std::pair<std::string, std::string>>& names) {
  std::vector<std::string> schemas, tables;
  for (const auto& [s, t] : names) {
    schemas.push_back(s);
    tables.push_back(t);
  }
  auto r = conn.exec_params(R"(
SELECT n.nspname, c.relname,
       CASE c.relkind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view' WHEN 'f' THEN 'a foreign table'
                      WHEN 'S' THEN 'a sequence' WHEN 'i' THEN 'an index' WHEN 'c' THEN 'a composite type'
                      ELSE 'not a table' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind NOT IN ('r', 'p') AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])))",
                            {pg::text_array_literal(schemas), pg::text_array_literal(tables)}, "relations");
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out[{r.text(i, 0), r.text(i, 1)}] = r.text(i, 2);
  return out;
}

void read_columns(pg::Connection& conn, std::vector<Relation>& relations) {
  std::unordered_map<Oid, Relation*> by_oid;
  std::vector<Oid> oids;
  for (auto& rel : relations) {
    by_oid[rel.oid] = &rel;
    oids.push_back(rel.oid);
    rel.columns.clear();
  }
  auto r = conn.exec_params(R"(
SELECT a.attrelid::int8, a.attname, tn.nspname || '.' || t.typname, format_type(a.atttypid, a.atttypmod),
       t.typcategory::text, a.attnotnull, a.atthasdef, a.attidentity <> '', a.attgenerated <> '',
       CASE WHEN a.atttypid = 'pg_catalog.bpchar'::regtype AND a.atttypmod > 4 THEN a.atttypmod - 4 ELSE 0 END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_namespace tn ON tn.oid = t.typnamespace
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum)",
                            {oid_array_literal(oids)}, "columns");
  for (int i = 0; i < r.rows(); ++i) {
    Column c{r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4)[0],
             r.boolean(i, 5), r.boolean(i, 6), r.boolean(i, 7), r.boolean(i, 8), static_cast<int>(r.int64(i, 9))};
    by_oid.at(r.int64(i, 0))->columns.push_back(std::move(c));
  }
}

std::vector<Oid> read_tables_embedding_type_oids(pg::Connection& conn, const std::vector<Oid>& oids) {
  // array_send writes the element type's OID and record_send each field's type OID; the
  // receiving side checks them against its own. Built-in types (OID < 16384) have the same
  // OID in every cluster; anything else (enums, domains, composites, extension types) does not.
  auto r = conn.exec_params(R"(
WITH RECURSIVE walk(relid, typ) AS (
  SELECT a.attrelid, a.atttypid FROM pg_attribute a
  WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT w.relid, k.child FROM walk w JOIN pg_type t ON t.oid = w.typ
  CROSS JOIN LATERAL (
    SELECT t.typbasetype WHERE t.typtype = 'd'
    UNION ALL SELECT t.typelem WHERE t.typcategory = 'A' AND t.typelem <> 0
    UNION ALL SELECT fa.atttypid FROM pg_attribute fa
              WHERE t.typtype = 'c' AND fa.attrelid = t.typrelid AND fa.attnum > 0 AND NOT fa.attisdropped
    UNION ALL SELECT rg.rngsubtype FROM pg_range rg WHERE t.typtype = 'r' AND rg.rngtypid = t.oid
    UNION ALL SELECT rg.rngtypid FROM pg_range rg WHERE t.typtype = 'm' AND rg.rngmultitypid = t.oid
  ) k(child))
SELECT DISTINCT w.relid::int8 FROM walk w JOIN pg_type t ON t.oid = w.typ
WHERE (t.typcategory = 'A' AND t.typelem >= 16384)
   OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_attribute fa WHERE fa.attrelid = t.typrelid
                                   AND fa.attnum > 0 AND NOT fa.attisdropped AND fa.atttypid >= 16384)))",
                            {oid_array_literal(oids)}, "column types");
  std::vector<Oid> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.int64(i, 0));
  return out;
}

std::vector<std::pair<Oid, Oid>> read_foreign_keys_between(pg::Connection& conn, const std::vector<Oid>& oids) {
  auto r = conn.exec_params(R"(
WITH dest AS (SELECT d AS dest FROM unnest($1::oid[]) d),
member AS (SELECT dest, dest AS rel FROM dest
           UNION SELECT dest, t.relid::oid FROM dest, LATERAL pg_partition_tree(dest) t)
SELECT DISTINCT a.dest::int8, b.dest::int8
FROM pg_constraint c JOIN member a ON a.rel = c.conrelid JOIN member b ON b.rel = c.confrelid
WHERE c.contype = 'f')",
                            {oid_array_literal(oids)}, "foreign keys");
  std::vector<std::pair<Oid, Oid>> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.int64(i, 0), r.int64(i, 1));
  return out;
}

std::vector<bool> read_key_indexed(pg::Connection& conn, const std::vector<std::pair<Oid, std::vector<std::string>>>& keys) {
  std::vector<std::string> relids, columns;
  for (const auto& [oid, cols] : keys) {
    relids.push_back(std::to_string(oid));
    columns.push_back(pg::text_array_literal(cols));
  }
  auto r = conn.exec_params(R"(
SELECT EXISTS (
  SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
  WHERE i.indrelid = k.relid::oid AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
    AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
              WHERE u.ord <= cardinality(k.cols::text[]) ORDER BY u.ord) = k.cols::text[])
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY k(relid, cols, n) ORDER BY k.n)",
                            {pg::text_array_literal(relids), pg::text_array_literal(columns)}, "indexes");
  std::vector<bool> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.boolean(i, 0));
  return out;
}

std::vector<size_t> read_unreadable(pg::Connection& conn,
                                    const std::vector<std::pair<Oid, std::vector<std::string>>>& reads) {
  std::vector<std::string> relids, columns;
  for (const auto& [oid, cols] : reads) {
    relids.push_back(std::to_string(oid));
    columns.push_back(pg::text_array_literal(cols));
  }
  auto r = conn.exec_params(R"(
SELECT k.n - 1 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY k(relid, cols, n)
WHERE NOT has_table_privilege(k.relid::oid, 'SELECT')
  AND NOT COALESCE((SELECT bool_and(has_column_privilege(k.relid::oid, c, 'SELECT'))
                    FROM unnest(k.cols::text[]) c), false)
ORDER BY k.n)",
                            {pg::text_array_literal(relids), pg::text_array_literal(columns)}, "privileges");
  std::vector<size_t> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(static_cast<size_t>(r.int64(i, 0)));
  return out;
}

std::vector<size_t> read_row_security_filtered(pg::Connection& conn, const std::vector<Oid>& relations) {
  std::vector<std::string> relids;
  for (Oid oid : relations) relids.push_back(std::to_string(oid));
  // The server's own rule (check_enable_rls): superuser and BYPASSRLS read everything; the
  // owner (or a role with its privileges) too, unless the table FORCEs row security.
  auto r = conn.exec_params(R"(
SELECT k.n - 1 FROM unnest($1::oid[]) WITH ORDINALITY k(relid, n) JOIN pg_class c ON c.oid = k.relid
WHERE c.relrowsecurity
  AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
  AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
ORDER BY k.n)",
                            {pg::text_array_literal(relids)}, "row-level security");
  std::vector<size_t> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(static_cast<size_t>(r.int64(i, 0)));
  return out;
}

}  // namespace pgblit::plan
