// Which rows changed on the source since a follow run's snapshot: the cutover compares only
// those rows (their digests, source against target) instead of every row of every table.
//
// The keys come from a second logical slot (pgoutput, the run's publication) created before the
// subscription's own, so its changes are a superset of what the subscription applies. pgblit
// reads it through the SQL interface (pg_logical_slot_peek_binary_changes) and keeps only the
// replica identity of each inserted, updated (old and new key) or deleted row; it never applies
// anything. What it read is stored on the target first, then the slot is advanced past it, so a
// killed cutover loses nothing. docs/follow.md, "What the cutover checks".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::source {

// The changes read from the slot, by the plan's source table name.
struct ChangedKeys {
  // Each changed row's replica identity: {column: text value}. A table in `whole` (a TRUNCATE,
  // a replica identity FULL or NOTHING, a key column that came unchanged-TOASTed) has no usable
  // keys: the cutover compares it whole.
  std::map<std::string, std::set<nlohmann::json>> keys;
  std::set<std::string> whole;
  int64_t changes = 0;
  bool empty() const { return keys.empty() && whole.empty(); }
};

// Creates the key slot (pgoutput, through the SQL interface) and returns its consistent point.
std::string create_key_slot(pg::Connection& source, const std::string& slot);

// Why the key slot cannot be read ("" when it can): gone from the source (someone dropped it)
// or invalidated (the source removed WAL it still needed, max_slot_wal_keep_size).
std::string key_slot_unusable(pg::Connection& source, const std::string& slot);

// Reads the key slot up to `upto` (an LSN the source has flushed) in batches; each batch goes
// to `store` (which must make it durable), then the slot is advanced past it. Without
// `advance`, one read and the slot stays (the fence's tail: storing twice is harmless, and
// advancing would decode the WAL a second time inside the downtime). Returns the number of
// row changes read.
int64_t drain_key_slot(pg::Connection& source, const std::string& slot, const std::string& publication,
                       const plan::Plan& plan, const std::string& upto, bool advance,
                       const std::function<void(const ChangedKeys&)>& store);

// Parses pgoutput (protocol 1) messages into keys. `table_of` names the plan's table for a
// relation's OID ("" when it is none of the plan's). Exposed for the unit test.
class PgoutputKeys {
 public:
  explicit PgoutputKeys(std::function<std::string(uint32_t relid)> table_of) : table_of_(std::move(table_of)) {}
  // One message (the bytes of one row of pg_logical_slot_*_binary_changes); returns the commit's
  // end LSN for a commit message, else 0.
  uint64_t add(const std::string& message);
  ChangedKeys take();

 private:
  struct Relation {
    std::string table;
    bool keyed = false;  // replica identity default or index
    std::vector<std::string> columns;
    std::vector<bool> key;
  };
  void add_tuple(const Relation& r, std::string_view& in);
  std::function<std::string(uint32_t)> table_of_;
  std::map<uint32_t, Relation> relations_;
  ChangedKeys out_;
};

}  // namespace pgblit::source
