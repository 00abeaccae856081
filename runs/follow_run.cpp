// See follow_run.hpp. The cutover and unfollow are in cutover_run.cpp.
#include "runs/follow_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>

#include "core/defaults.hpp"
#include "runs/changed_rows_check.hpp"
#include "pg/replication.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "source/follow_checks.hpp"
#include "source/changed_keys.hpp"
#include "source/follow_source.hpp"
#include "target/subscription.hpp"

namespace pgblit::runs {

FollowCatalog::FollowCatalog(pg::Connection& target, std::string schema)
    : target_(target), schema_(std::move(schema)), table_(pg::quote_ident(schema_) + ".follows") {}

void FollowCatalog::create_table() {
  bool existed = exists();
  target_.exec(fmt::format(R"(CREATE TABLE IF NOT EXISTS {} (
  run_id bigint PRIMARY KEY,
  slot text NOT NULL,            -- on the source: a forgotten slot keeps WAL forever
  publication text NOT NULL,     -- on the source
  subscription text NOT NULL,    -- on the target
  state text NOT NULL,
  snapshot_lsn text,
  fence_lsn text,
  created_at timestamptz NOT NULL DEFAULT now(),
  following_at timestamptz,
  fenced_at timestamptz,
  ready_at timestamptz))",
                           table_),
               table_);
  if (!existed) target_.exec(fmt::format("COMMENT ON TABLE {} IS {}", table_, pg::quote_literal(kCatalogTableMarker)), table_);
  // The key slot (changed_keys.hpp): on the source, dropped with the others. Catalogs made
  // before it have none, and their cutover checks counts.
  target_.exec(fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS key_slot text", table_), table_);
  create_changed_keys_table(target_, schema_);
}

bool FollowCatalog::exists() {
  return target_.exec_params("SELECT to_regclass($1) IS NOT NULL", {table_}, table_).boolean(0, 0);
}

FollowRecord FollowCatalog::add(int64_t run) {
  std::random_device random;
  std::string tag = fmt::format("pgblit_{}_{:08x}", run, random());
  FollowRecord r{run, tag, tag, tag, "starting", "", "", tag + "_keys"};
  target_.exec_params(fmt::format("INSERT INTO {} (run_id, slot, publication, subscription, state, key_slot) "
                                  "VALUES ($1, $2, $3, $4, $5, $6)",
                                  table_),
                      {std::to_string(run), r.slot, r.publication, r.subscription, r.state, r.key_slot}, table_);
  return r;
}

namespace {
FollowRecord record_of(const pg::Result& r, int i) {
  return {r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5), r.text(i, 6),
          r.text(i, 7)};
}
constexpr const char* kColumns = "run_id, slot, publication, subscription, state, COALESCE(snapshot_lsn, ''), "
                                 "COALESCE(fence_lsn, ''), COALESCE(key_slot, '')";
}  // namespace

std::optional<FollowRecord> FollowCatalog::load(int64_t run) {
  if (!exists()) return std::nullopt;
  auto r = target_.exec_params(fmt::format("SELECT {} FROM {} WHERE run_id = $1", kColumns, table_),
                               {std::to_string(run)}, table_);
  if (r.rows() == 0) return std::nullopt;
  return record_of(r, 0);
}

std::vector<FollowRecord> FollowCatalog::open_follows() {
  std::vector<FollowRecord> out;
  if (!exists()) return out;
  auto r = target_.exec(fmt::format("SELECT {} FROM {} WHERE state NOT IN ('done', 'unfollowed') ORDER BY run_id",
                                    kColumns, table_),
                        table_);
  for (int i = 0; i < r.rows(); ++i) out.push_back(record_of(r, i));
  return out;
}

void FollowCatalog::set(int64_t run, const std::string& column, const std::string& value) {
  target_.exec_params(fmt::format("UPDATE {} SET {} = $2 WHERE run_id = $1", table_, pg::quote_ident(column)),
                      {std::to_string(run), value}, table_);
}

void require_followable(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                        const plan::Plan& plan) {
  for (const auto& t : plan.tables) {
    if (auto why = source::reshaping(t); !why.empty()) {
      throw usage_error(fmt::format("--follow: {}: the mapping reshapes its rows ({}), and native logical replication "
                                    "applies rows by table and column name; nothing was done",
                                    t.source, why),
                        t.source, "move without --follow, or keep only where filters in the mapping");
    }
  }
  for (const auto& f : source::follow_checks(coordinator, target, plan)) {
    if (f.error) throw usage_error("--follow: " + f.what + "; nothing was done", "", f.fix);
  }
  auto session = pg::open_session(source_conninfo, "source");
  source::create_publication(session, "pgblit_probe", plan, /*commit=*/false);
}

std::string start_follow(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                         const std::string& catalog, int64_t run, const plan::Plan& plan) {
  FollowCatalog follows(target, catalog);
  follows.create_table();
  auto record = follows.add(run);  // named before created: unfollow finds whatever comes next
  {
    // Before the slot: pgoutput looks the publication up as of each change it decodes.
    auto session = pg::open_session(source_conninfo, "source");
    source::create_publication(session, record.publication, plan);
    // Before the subscription's slot: its changes are then a superset of what the subscription
    // applies (a transaction committed between the two is compared needlessly, never missed).
    source::create_key_slot(session, record.key_slot);
  }
  pg::ReplicationConnection replication(source_conninfo);  // open until the coordinator imported its snapshot
  auto slot = replication.create_logical_slot(record.slot);
  pg::rollback_quietly(coordinator);
  pg::join_snapshot(coordinator, slot.snapshot);
  std::string snapshot = coordinator.exec("SELECT pg_export_snapshot()", "snapshot").text(0, 0);
  follows.set(run, "snapshot_lsn", slot.consistent_point);
  follows.set(run, "state", "copying");
  target.exec_params(fmt::format("UPDATE {}.runs SET snapshot_id = $2 WHERE id = $1", pg::quote_ident(catalog)),
                     {std::to_string(run), snapshot}, catalog);
  spdlog::info("following: slot {} and publication {} on the source; the copy reads the slot's snapshot {} (changes "
               "after {} are applied by the subscription {} once the tables are loaded)",
               record.slot, record.publication, snapshot, slot.consistent_point, record.subscription);
  return snapshot;
}

void begin_following(pg::Connection& target, const std::string& subscription_conninfo, const std::string& catalog,
                     int64_t run) {
  FollowCatalog follows(target, catalog);
  auto record = follows.load(run);
  if (!record) throw Error(ErrorKind::Runtime, fmt::format("run {} has no follow record", run), catalog);
  if (record->state == "copying") {
    target::create_subscription(target, {record->subscription, subscription_conninfo, record->publication, record->slot});
    follows.set(run, "following_at", "now");
    follows.set(run, "state", "following");
  }
  spdlog::info("run {} is following: the subscription {} applies the source's changes since {}; cut over with "
               "pgblit cutover {} (or drop it all with pgblit unfollow {})",
               run, record->subscription, record->snapshot_lsn, run, run);
}

nlohmann::json follow_status(pg::Connection& target, const std::string& catalog, int64_t run,
                             const std::string& source_conninfo) {
  FollowCatalog follows(target, catalog);
  auto record = follows.load(run);
  if (!record) return nullptr;
  nlohmann::json out{{"state", record->state},           {"slot", record->slot},
                     {"publication", record->publication}, {"subscription", record->subscription},
                     {"snapshot_lsn", record->snapshot_lsn}};
  auto sub = target::subscription_state(target, record->subscription);
  out["subscription_exists"] = sub.exists;
  out["apply_worker_running"] = sub.worker_running;
  out["lag_seconds"] = sub.lag_seconds ? nlohmann::json(*sub.lag_seconds) : nlohmann::json();
  if (!source_conninfo.empty()) {
    try {
      auto source = pg::open_session(source_conninfo, "source");
      auto slot = source::slot_state(source, record->slot);
      out["slot_exists"] = slot.exists;
      if (slot.exists) {
        out["lag_bytes"] = slot.lag_bytes;
        out["slot_retained_bytes"] = slot.retained_bytes;
      }
    } catch (const Error& e) {
      out["source_error"] = e.what();
    }
  }
  return out;
}

void emit_follow_lag(Events& events, const nlohmann::json& status, int64_t run) {
  if (status.is_null()) return;
  nlohmann::json fields{{"run_id", run}, {"state", status["state"]},
                        {"apply_worker_running", status.value("apply_worker_running", false)},
                        {"lag_seconds", status.value("lag_seconds", nlohmann::json())},
                        {"lag_bytes", status.value("lag_bytes", nlohmann::json())},
                        {"slot_retained_bytes", status.value("slot_retained_bytes", nlohmann::json())}};
  events.emit("follow_lag", fields);
}

}  // namespace pgblit::runs
