// Deferred indexes and constraints: a target that already has its schema (the usual case:
// migrations ran first) makes every loaded row pay for index maintenance and foreign-key
// checks. For every target table that is empty when the run starts, pgblit records the exact
// definition of its secondary indexes, primary key, unique and exclusion constraints and the
// foreign keys from and to it, drops them, loads, and rebuilds them (rebuild.hpp).
//
// What is kept in place, and why (the plan says so): objects of tables that held rows (an
// append), of tables the target role does not own (it may not drop or re-create them), parts
// of partitioned index or constraint trees (re-creating a tree names its partitions' parts
// anew), foreign keys on or to partitioned tables, and any index or constraint a kept foreign
// key relies on. A foreign key from a table outside the run onto a deferred primary key is
// deferred with it, since the key cannot be dropped under it.
//
// Everything needed to re-create an object exactly is in its definition (pg_get_indexdef,
// pg_get_constraintdef, tablespace, comments, deferrable and NOT VALID flags, CLUSTER ON,
// REPLICA IDENTITY), kept as JSON in the run catalog in the same transaction as the drop.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::target {

// Script: the rest of a created schema's post-data (triggers, policies, rules, comments),
// applied once every table is loaded and every other object is back.
enum class ObjectKind { Index, Constraint, ForeignKey, Script };
const char* to_string(ObjectKind kind);

struct DeferredObject {
  ObjectKind kind = ObjectKind::Index;
  std::string name;        // the index or constraint, quoted
  std::string schema;      // of its table, quoted (an index lives in its table's schema)
  std::string table;       // the table it is on, "schema"."table"
  std::string referenced;  // a foreign key's referenced table; else empty
  char constraint_type = 0;       // 'p', 'u', 'x', 'f' for constraints
  std::string index_definition;   // CREATE [UNIQUE] INDEX ... (indexes, primary keys, unique)
  std::string constraint_definition;  // pg_get_constraintdef (constraints)
  bool deferrable = false;
  bool initially_deferred = false;
  bool validated = true;       // foreign keys: false when it was NOT VALID, and stays so
  std::string tablespace;      // quoted, or empty for the default
  std::string index_comment;   // COMMENT ON INDEX, if any
  std::string constraint_comment;
  bool clustered = false;          // ALTER TABLE ... CLUSTER ON
  bool replica_identity = false;   // ALTER TABLE ... REPLICA IDENTITY USING INDEX
  std::vector<std::string> columns;             // key columns (unique) or referencing columns (FK), quoted
  std::vector<std::string> referenced_columns;  // FK, quoted
  int64_t table_bytes = 0;  // the table's size on the source: larger first
  std::string script;       // Script: the SQL

  std::string describe() const;  // "index "ix" on "s"."t"", "foreign key "fk" on ..."
};

nlohmann::json to_json(const DeferredObject& object);
DeferredObject object_from_json(const nlohmann::json& json);

struct KeptObject {
  std::string table;
  std::string what;  // "index "ix" on "s"."t""
  std::string why;
};

struct Deferral {
  std::vector<DeferredObject> objects;  // foreign keys first, then constraints and indexes
  std::vector<KeptObject> kept;
  std::set<std::string> kept_self_references;  // tables whose self-referencing foreign key stays
};

// Which objects of the plan's target tables to defer, and which to keep with the reason.
// `prefilled`: target tables that hold rows (their objects stay). Reads only.
Deferral plan_deferral(pg::Connection& target, const plan::Plan& plan, const std::set<std::string>& prefilled);

// The statement that drops an object.
std::string drop_sql(const DeferredObject& object);

// Adjusts a plan to objects deferred on its target: tables whose index a chunk read-back
// relied on are verified whole, and load order no longer follows deferred foreign keys.
void apply_deferral(const Deferral& deferral, plan::Plan& plan);

}  // namespace pgblit::target
