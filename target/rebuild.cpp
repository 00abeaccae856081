// See rebuild.hpp.
#include "target/rebuild.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/defaults.hpp"
#include "core/test_moment.hpp"
#include "pg/retry.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

enum State { kWaiting, kReady, kBuilding, kDone, kFailed };

bool exists(pg::Connection& session, const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  return session.exec_params(sql, params).boolean(0, 0);
}

bool index_exists(pg::Connection& session, const DeferredObject& o) {
  return exists(session, "SELECT to_regclass($1) IS NOT NULL", {o.schema + "." + o.name});
}

bool constraint_exists(pg::Connection& session, const DeferredObject& o) {
  return exists(session,
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass "
                "AND '\"' || replace(conname, '\"', '\"\"') || '\"' = $2)",  // quoted as pg::quote_ident does
                {o.table, o.name});
}

std::string tablespace_setting(const DeferredObject& o) {
  return fmt::format("SET LOCAL default_tablespace = {}", o.tablespace.empty() ? "''" : o.tablespace);
}

// What follows an object's creation: its comments, CLUSTER ON, REPLICA IDENTITY.
std::string finishing_sql(const DeferredObject& o) {
  std::string sql;
  if (!o.index_comment.empty()) {
    sql += fmt::format("COMMENT ON INDEX {}.{} IS {};", o.schema, o.name, pg::quote_literal(o.index_comment));
  }
  if (!o.constraint_comment.empty()) {
    sql += fmt::format("COMMENT ON CONSTRAINT {} ON {} IS {};", o.name, o.table, pg::quote_literal(o.constraint_comment));
  }
  if (o.clustered) sql += fmt::format("ALTER TABLE {} CLUSTER ON {};", o.table, o.name);
  if (o.replica_identity) sql += fmt::format("ALTER TABLE {} REPLICA IDENTITY USING INDEX {};", o.table, o.name);
  return sql;
}

// One transaction of a rebuild: `sql`, then (when it completes the object) the record.
template <typename Record>
void in_transaction(pg::Connection& session, const std::string& object, const std::string& sql, Record record) {
  session.exec("BEGIN", object);
  try {
    if (!sql.empty()) session.exec(sql, object);
    record();
    session.exec("COMMIT", object);
  } catch (...) {
    pg::rollback_quietly(session);
    throw;
  }
}

std::string row_of(const std::vector<std::string>& columns, const std::string& alias) {
  std::vector<std::string> qualified;
  for (const auto& c : columns) qualified.push_back(alias + "." + c);
  return fmt::format("ROW({})::text", fmt::join(qualified, ", "));
}

// Up to 10 keys that break the object, found by a set-based query on the loaded rows.
std::vector<std::string> offending_keys(pg::Connection& session, const DeferredObject& o) {
  if (o.columns.empty()) return {};
  std::vector<std::string> not_null;
  for (const auto& c : o.columns) not_null.push_back("t." + c + " IS NOT NULL");
  std::string sql;
  if (o.kind == ObjectKind::ForeignKey) {
    std::vector<std::string> match;
    for (size_t i = 0; i < o.columns.size() && i < o.referenced_columns.size(); ++i) {
      match.push_back(fmt::format("r.{} = t.{}", o.referenced_columns[i], o.columns[i]));
    }
    sql = fmt::format("SELECT DISTINCT {} FROM {} t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} r WHERE {}) LIMIT 10",
                      row_of(o.columns, "t"), o.table, fmt::join(not_null, " AND "), o.referenced,
                      fmt::join(match, " AND "));
  } else if (o.constraint_type == 'p' || o.constraint_type == 'u' || o.index_definition.find(" UNIQUE ") != std::string::npos) {
    sql = fmt::format("SELECT {} FROM {} t WHERE {} GROUP BY {} HAVING count(*) > 1 LIMIT 10", row_of(o.columns, "t"),
                      o.table, fmt::join(not_null, " AND "), row_of(o.columns, "t"));
  } else {
    return {};
  }
  std::vector<std::string> keys;
  auto r = session.exec(sql, o.table);
  for (int i = 0; i < r.rows(); ++i) keys.push_back(r.text(i, 0));
  return keys;
}

}  // namespace

Rebuilder::Rebuilder(std::vector<DeferredObject> objects, std::vector<bool> pending, std::set<std::string> run_tables,
                     std::string target_conninfo, int jobs, OnRebuilt on_rebuilt, pg::Cancellation& cancellation,
                     double retry_timeout)
    : objects_(std::move(objects)), run_tables_(std::move(run_tables)), conninfo_(std::move(target_conninfo)),
      on_rebuilt_(std::move(on_rebuilt)), cancellation_(cancellation), retry_timeout_(retry_timeout),
      state_(objects_.size(), kWaiting) {
  for (size_t i = 0; i < objects_.size(); ++i) {
    if (!pending[i]) state_[i] = kDone;
  }
  builds_ = std::make_unique<WorkerPool>(jobs);
  workers_ = builds_->workers();  // read by the workers: builds_ is null while it is being destroyed
  for (int i = 0; i < workers_; ++i) builds_->run([this] { work(); });
}

Rebuilder::~Rebuilder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  builds_.reset();  // waits for the builds to return
}

void Rebuilder::table_loaded(const std::string& table) {
  {
    std::lock_guard lock(mutex_);
    loaded_.insert(table);
    schedule();
  }
  changed_.notify_all();
}

void Rebuilder::all_loaded() {
  {
    std::lock_guard lock(mutex_);
    loaded_.insert(run_tables_.begin(), run_tables_.end());
    schedule();
  }
  changed_.notify_all();
}

// A table's keys are back when none of its constraints is still to come.
bool Rebuilder::keys_back(const std::string& table) const {
  for (size_t i = 0; i < objects_.size(); ++i) {
    if (objects_[i].kind == ObjectKind::Constraint && objects_[i].table == table && state_[i] != kDone) return false;
  }
  return true;
}

void Rebuilder::schedule() {
  auto is_loaded = [&](const std::string& t) { return !run_tables_.count(t) || loaded_.count(t); };
  for (size_t i = 0; i < objects_.size(); ++i) {
    if (state_[i] != kWaiting) continue;
    const auto& o = objects_[i];
    if (o.kind == ObjectKind::Script) {  // last: every table loaded, every other object back
      bool rest_done = true;
      for (size_t j = 0; j < objects_.size(); ++j) rest_done &= j == i || state_[j] == kDone || state_[j] == kFailed;
      if (rest_done && std::all_of(run_tables_.begin(), run_tables_.end(), is_loaded)) state_[i] = kReady;
      continue;
    }
    if (o.kind != ObjectKind::ForeignKey) {
      if (is_loaded(o.table)) state_[i] = kReady;
      continue;
    }
    bool referenced_failed = false;
    for (size_t j = 0; j < objects_.size(); ++j) {
      referenced_failed |= objects_[j].kind == ObjectKind::Constraint && objects_[j].table == o.referenced &&
                           state_[j] == kFailed;
    }
    if (referenced_failed) {
      state_[i] = kFailed;
      totals_.failures.push_back({i, fmt::format("{} was not rebuilt: a key of {} it references could not be",
                                                 o.describe(), o.referenced), {}});
    } else if (is_loaded(o.table) && is_loaded(o.referenced) && keys_back(o.referenced)) {
      state_[i] = kReady;
    }
  }
}

RebuildTotals Rebuilder::wait() { return wait_while_any({kWaiting, kReady, kBuilding}); }

RebuildTotals Rebuilder::wait_for_started() { return wait_while_any({kReady, kBuilding}); }

// Until the run is cancelled or no object is in any of `states`.
RebuildTotals Rebuilder::wait_while_any(std::initializer_list<int> states) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    return cancellation_.requested() || std::none_of(state_.begin(), state_.end(), [&](int s) {
             return std::find(states.begin(), states.end(), s) != states.end();
           });
  });
  return totals_;
}

void Rebuilder::work() {
  std::optional<pg::Connection> session;
  for (;;) {
    size_t next = 0;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || std::find(state_.begin(), state_.end(), kReady) != state_.end();
      });
      if (stopping_) return;
      // Largest table first.
      std::optional<size_t> best;
      for (size_t i = 0; i < objects_.size(); ++i) {
        if (state_[i] == kReady && (!best || objects_[i].table_bytes > objects_[*best].table_bytes)) best = i;
      }
      next = *best;
      state_[next] = kBuilding;
    }
    bool ok = false;
    std::string error;
    std::vector<std::string> examples;
    try {
      // Two foreign keys between the same tables may deadlock each other, and the target may
      // restart: both are retried, a lost session reopened (each step of a rebuild first looks
      // whether its work is already there).
      pg::Retry retry(retry_timeout_, cancellation_);
      for (;;) {
        try {
          if (!session || !session->alive()) open_session(session);
          pg::Cancellation::Watch watch(cancellation_, *session);
          rebuild(*session, next);
          break;
        } catch (const Error& e) {
          if (!retry.again(e, objects_[next].describe())) throw;
        }
      }
      ok = true;
      core::object_rebuilt(cancellation_);
    } catch (const Error& e) {
      error = fmt::format("{} could not be rebuilt: {}", objects_[next].describe(), e.what());
      if (session && session->alive() && !cancellation_.requested()) {
        try {
          examples = offending_keys(*session, objects_[next]);
        } catch (const Error& ignored) {
          spdlog::debug("offending keys of {}: {}", objects_[next].describe(), ignored.what());
        }
      }
    }
    {
      std::lock_guard lock(mutex_);
      state_[next] = ok ? kDone : kFailed;
      if (!ok) totals_.failures.push_back({next, error, examples});
      schedule();
    }
    changed_.notify_all();
  }
}

// A build session: maintenance_work_mem is four times the server's, shared by the builds.
void Rebuilder::open_session(std::optional<pg::Connection>& session) {
  session.emplace(pg::open_session(conninfo_, "target"));
  if (memory_kb_ == 0) {
    int64_t server = session->exec("SELECT setting::int8 FROM pg_settings WHERE name = 'maintenance_work_mem'").int64(0, 0);
    memory_kb_ = std::clamp<int64_t>(4 * server / static_cast<int64_t>(workers_), 64 << 10, 2 << 20);
  }
  session->exec(fmt::format("SET maintenance_work_mem = '{}kB'", memory_kb_.load()));
}

void Rebuilder::rebuild(pg::Connection& session, size_t index) {
  const auto& o = objects_[index];
  auto started = std::chrono::steady_clock::now();
  auto record = [&] {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    on_rebuilt_(session, index, seconds);
    std::lock_guard lock(mutex_);
    auto& [count, total] = totals_.by_kind[o.kind == ObjectKind::Index             ? "indexes"
                                           : o.kind == ObjectKind::ForeignKey        ? "foreign keys"
                                           : o.kind == ObjectKind::Script            ? "post-data scripts"
                                           : o.constraint_type == 'p'                ? "primary keys"
                                                                                     : "unique and exclusion constraints"];
    ++count;
    total += seconds;
  };
  std::string object = o.describe();
  switch (o.kind) {
    case ObjectKind::Index: {
      std::string sql = index_exists(session, o) ? "" : tablespace_setting(o) + ";" + o.index_definition + ";";
      in_transaction(session, object, sql + finishing_sql(o), record);
      return;
    }
    case ObjectKind::Constraint: {
      if (constraint_exists(session, o)) {
        in_transaction(session, object, "", record);
        return;
      }
      if (o.constraint_type == 'x') {
        in_transaction(session, object,
                       fmt::format("{}; ALTER TABLE {} ADD CONSTRAINT {} {};", tablespace_setting(o), o.table, o.name,
                                   o.constraint_definition) + finishing_sql(o),
                       record);
        return;
      }
      if (!index_exists(session, o)) in_transaction(session, object, tablespace_setting(o) + ";" + o.index_definition, [] {});
      std::string attach = fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}{};", o.table, o.name,
                                       o.constraint_type == 'p' ? "PRIMARY KEY" : "UNIQUE", o.name,
                                       o.deferrable ? " DEFERRABLE" : "", o.initially_deferred ? " INITIALLY DEFERRED" : "");
      in_transaction(session, object, attach + finishing_sql(o), record);
      return;
    }
    case ObjectKind::Script:
      in_transaction(session, object, o.script, record);
      return;
    case ObjectKind::ForeignKey: {
      if (!constraint_exists(session, o)) {
        bool not_valid = o.constraint_definition.find("NOT VALID") != std::string::npos;
        in_transaction(session, object,
                       fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {}{}", o.table, o.name, o.constraint_definition,
                                   not_valid ? "" : " NOT VALID"),
                       [] {});
      }
      std::string validate = o.validated ? fmt::format("ALTER TABLE {} VALIDATE CONSTRAINT {};", o.table, o.name) : "";
      in_transaction(session, object, validate + finishing_sql(o), record);
      return;
    }
  }
}

}  // namespace pgblit::target
