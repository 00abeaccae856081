// See follow_source.hpp.
#include "source/follow_source.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::source {

std::string reshaping(const plan::TableCopy& t) {
  if (t.source != t.target) return fmt::format("its rows load into {}", t.target);
  if (t.merged()) return "its keys are given new values";
  for (const auto& column : t.column_rules) {
    if (column.rescaled) return fmt::format("column {} is rescaled", column.name);
    // Padded to a char(n) (TargetColumn::padded_to): the target's own input pads a replicated
    // value the same way.
    bool padded_only = column.padded_to > 0 && std::holds_alternative<mapping::Cast>(column.source);
    if ((std::holds_alternative<mapping::PassThrough>(column.source) || padded_only) &&
        mapping::carried_column(column.source) == column.name) {
      continue;
    }
    auto from = mapping::carried_column(column.source);
    return fmt::format("column {} is {}", column.name,
                       from.empty() ? "computed" : from == column.name ? "cast or remapped" : "renamed from " + from);
  }
  return "";
}

namespace {

std::string published_table(const plan::TableCopy& t, bool column_lists) {
  std::string out = t.source;
  if (column_lists && !t.columns.empty()) {
    out += " (";
    for (size_t i = 0; i < t.columns.size(); ++i) out += (i ? ", " : "") + pg::quote_ident(t.columns[i]);
    out += ")";
  }
  if (!t.filter.empty()) out += " WHERE (" + t.filter + ")";
  return out;
}

// Whether the plan copies every column the table publishes: then no column list is given, which
// publishes the same. PostgreSQL 15 refuses any column list on a table of REPLICA IDENTITY FULL
// (the fix the dry run names for a table without a key), even one naming every column.
bool copies_every_column(pg::Connection& source, const plan::TableCopy& t) {
  auto r = source.exec_params("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                              "AND NOT attisdropped AND attgenerated = ''",
                              {t.source}, t.source);
  for (int i = 0; i < r.rows(); ++i) {
    if (std::find(t.columns.begin(), t.columns.end(), r.text(i, 0)) == t.columns.end()) return false;
  }
  return true;
}

// UPDATE and DELETE that touch no row still check the published table's replica identity
// (CheckCmdReplicaIdentity runs when the statement starts), so the application's next UPDATE
// is known to work before the publication is committed.
void require_writable_once_published(pg::Connection& source, const plan::TableCopy& t) {
  if (t.columns.empty()) return;
  auto column = pg::quote_ident(t.columns[0]);
  for (const auto& sql : {fmt::format("UPDATE ONLY {} SET {} = {} WHERE false", t.source, column, column),
                          fmt::format("DELETE FROM ONLY {} WHERE false", t.source)}) {
    source.exec("SAVEPOINT pgblit_probe", t.source);
    try {
      source.exec(sql, t.source);
      source.exec("RELEASE SAVEPOINT pgblit_probe", t.source);
    } catch (const Error& e) {
      source.exec("ROLLBACK TO SAVEPOINT pgblit_probe", t.source);
      if (e.sqlstate() == "42501") {  // no UPDATE privilege: the dry run's catalog check is all there is
        spdlog::warn("{}: cannot prove UPDATE and DELETE still work once published ({})", t.source, e.what());
        return;
      }
      throw usage_error(fmt::format("{}: once published, the application's UPDATE and DELETE would fail: {}", t.source,
                                    e.what()),
                        t.source,
                        t.filter.empty()
                            ? "give it a primary key, or ALTER TABLE " + t.source +
                                  " REPLICA IDENTITY FULL (or USING INDEX a unique index on NOT NULL columns)"
                            : "a row filter may use only replica identity columns: filter on key columns, or ALTER "
                              "TABLE " + t.source + " REPLICA IDENTITY FULL");
    }
  }
}

}  // namespace

void create_publication(pg::Connection& source, const std::string& name, const plan::Plan& plan, bool commit) {
  bool column_lists = source.server_version() >= 150000;
  bool filters = false;
  std::string tables;
  for (const auto& t : plan.tables) {
    if (!t.filter.empty() && !column_lists) {
      throw usage_error(fmt::format("{}: the mapping filters its rows, and row filters of publications need "
                                    "PostgreSQL 15 on the source", t.source),
                        t.source, "copy the whole table, or move without --follow");
    }
    filters = filters || !t.filter.empty();
    tables += (tables.empty() ? "" : ", ") + published_table(t, column_lists && !copies_every_column(source, t));
  }
  // READ WRITE: a fenced source starts every session read-only, and this one writes.
  source.exec("BEGIN READ WRITE", name);
  try {
    try {
      source.exec(fmt::format("CREATE PUBLICATION {} FOR TABLE {}", pg::quote_ident(name), tables), name);
    } catch (const Error& e) {
      if (!filters || e.sqlstate() == "42501") throw;
      throw usage_error(fmt::format("the mapping's filters cannot be publication row filters: {}", e.what()), name,
                        "a row filter is one expression over the table's own columns (no subquery, no user function); "
                        "use a where on the table's columns, or move without --follow");
    }
    for (const auto& t : plan.tables) require_writable_once_published(source, t);
    source.exec(commit ? "COMMIT" : "ROLLBACK", name);
  } catch (...) {
    pg::rollback_quietly(source);
    throw;
  }
}

void drop_publication(pg::Connection& source, const std::string& name) {
  source.exec("BEGIN READ WRITE", name);
  source.exec(fmt::format("DROP PUBLICATION IF EXISTS {}", pg::quote_ident(name)), name);
  source.exec("COMMIT", name);
}

void drop_slot(pg::Connection& source, const std::string& slot, double wait_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  for (;;) {
    auto r = source.exec_params("SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1", {slot}, slot);
    if (r.rows() == 0) return;
    if (!r.boolean(0, 0)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      // A walsender still streams from it: a subscription somewhere still uses it; end that session.
      source.exec_params("SELECT pg_terminate_backend($1::int)", {r.text(0, 1)}, slot);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the fact: the walsender leaves
  }
  source.exec_params("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                     {slot}, slot);
}

SlotState slot_state(pg::Connection& source, const std::string& slot) {
  auto r = source.exec_params(R"(
SELECT active, COALESCE(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint
FROM pg_replication_slots WHERE slot_name = $1)",
                              {slot}, slot);
  SlotState s;
  if (r.rows() == 0) return s;
  s.exists = true;
  s.active = r.boolean(0, 0);
  s.confirmed_flush = r.text(0, 1);
  s.current = r.text(0, 2);
  s.lag_bytes = r.int64(0, 3);
  s.retained_bytes = r.int64(0, 4);
  return s;
}

std::string current_lsn(pg::Connection& source) {
  return source.exec("SELECT pg_current_wal_lsn()::text").text(0, 0);
}

bool slot_confirmed(pg::Connection& source, const std::string& slot, const std::string& lsn) {
  auto r = source.exec_params(
      "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1", {slot, lsn}, slot);
  if (r.rows() == 0) throw Error(ErrorKind::Runtime, "the replication slot is gone from the source", slot,
                                 "pgblit unfollow RUN_ID, then a new copy --follow");
  return !r.is_null(0, 0) && r.boolean(0, 0);
}

}  // namespace pgblit::source
