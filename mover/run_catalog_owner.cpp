// Which tables of a catalog schema are pgblit's own: the only ones `clean --all` drops, and a
// schema holding a table of a catalog table's name that is not pgblit's is refused before a
// catalog is made in it (`--catalog-schema public` beside the application's own `key_map`).
//
// Every table create_schema() makes carries a marker comment (kMarker): it follows the table
// through pg_dump/pg_restore of the target (an oid would not) and a table the user made under
// the same name never has it. Catalogs made before the marker existed have an unmarked
// catalog_info: there a table is pgblit's when it has every column (name and type) each older
// version gave it, which an application table of the same name does not; such tables are left
// unmarked, so the rule that recognizes them stays the same. In a marked catalog, an unmarked
// table is never pgblit's.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/defaults.hpp"
#include "mover/run_catalog.hpp"
#include "pg/sql.hpp"

namespace pgblit::mover {
namespace {

constexpr const char* kMarker = kCatalogTableMarker;

// The catalog's tables in the order `clean --all` drops them, each with the columns every
// version of pgblit gave it (later ones added columns, never removed or retyped these).
const std::vector<std::pair<std::string, std::string>>& catalog_tables() {
  static const std::vector<std::pair<std::string, std::string>> tables = {
      {"catalog_info", "format integer,created_schema boolean,created_at timestamp with time zone,created_by text"},
      {"objects", "run_id bigint,object integer,table_name text,kind text,name text,definition jsonb"},
      {"lanes", "run_id bigint,worker text,lane integer,chunk integer"},
      {"chunks", "run_id bigint,chunk integer,source_table text,target_table text,predicate text,status text"},
      {"key_map", "run_id bigint,target_table text,old_key text,new_key text"},
      {"follows", "run_id bigint,slot text,publication text,subscription text,state text"},
      {"runs", "id bigint,status text,plan jsonb,options jsonb,snapshot_id text,source_state jsonb"},
      // Restores of earlier pgblit versions recorded their chunks here; clean still drops it.
      {"restored_chunks", "spool_id text,chunk integer,rows bigint"},
      // Dropped only when no fence is in place (clean refuses before that).
      {"fences", "id bigint,source_database oid,database_name text,revoked text[],fenced_at timestamp with time zone"},
  };
  return tables;
}

}  // namespace

std::vector<CatalogTableOwner> RunCatalog::catalog_tables_present() {
  nlohmann::json wanted = nlohmann::json::object();
  for (const auto& [name, columns] : catalog_tables()) wanted[name] = columns;
  auto r = target_.exec_params(R"(
WITH marked_catalog AS (
  SELECT EXISTS (SELECT 1 FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
                 WHERE n.nspname = $1 AND i.relname = 'catalog_info' AND obj_description(i.oid, 'pg_class') = $3) AS yes)
SELECT c.relname, c.relkind = 'r' AND (
         obj_description(c.oid, 'pg_class') = $3
         OR (NOT m.yes AND string_to_array(w.value, ',') <@ ARRAY(
               SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))),
       obj_description(c.oid, 'pg_class') = $3, pg_has_role(c.relowner, 'USAGE')
FROM jsonb_each_text($2::jsonb) w
JOIN pg_class c ON c.relname = w.key
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1
CROSS JOIN marked_catalog m)",
                               {schema_, wanted.dump(), kMarker}, schema_);
  std::vector<CatalogTableOwner> present;
  for (const auto& [name, columns] : catalog_tables()) {  // in drop order
    for (int i = 0; i < r.rows(); ++i) {
      if (r.text(i, 0) == name) present.push_back({name, r.boolean(i, 1), r.boolean(i, 2), r.boolean(i, 3)});
    }
  }
  return present;
}

void RunCatalog::require_own_tables() {
  std::vector<std::string> foreign;
  for (const auto& t : catalog_tables_present()) {
    if (!t.pgblits) foreign.push_back(quoted_ + "." + pg::quote_ident(t.name));
  }
  if (foreign.empty()) return;
  throw usage_error(fmt::format("the run catalog schema {} holds {}, which pgblit did not create but whose name its "
                                "run catalog needs: nothing written",
                                quoted_, fmt::join(foreign, ", ")),
                    foreign[0],
                    "give the run catalog a schema of its own with --catalog-schema (default: pgblit); pgblit never "
                    "writes to or drops a table it did not create");
}

void RunCatalog::mark_own_tables(const std::vector<std::string>& existed_before) {
  for (const auto& t : catalog_tables_present()) {
    bool existed = std::find(existed_before.begin(), existed_before.end(), t.name) != existed_before.end();
    if (existed || t.marked || !t.owned_by_role) continue;  // an older catalog's tables keep their rule
    target_.exec(fmt::format("COMMENT ON TABLE {}.{} IS {}", quoted_, pg::quote_ident(t.name), pg::quote_literal(kMarker)),
                 schema_);
  }
}

}  // namespace pgblit::mover
