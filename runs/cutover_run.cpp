// `pgblit cutover` and `pgblit unfollow` (follow_run.hpp). The cutover's steps each leave the
// run in state "cutover" when interrupted; running it again starts from the fence (an existing
// one is kept), which is idempotent up to the drops, and the drops ignore what is gone.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "core/private_files.hpp"
#include "runs/changed_rows_check.hpp"
#include "runs/follow_run.hpp"
#include "mover/run_catalog.hpp"
#include "runs/verify_run.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "source/changed_keys.hpp"
#include "source/follow_source.hpp"
#include "target/fence.hpp"
#include "target/sequences.hpp"
#include "target/subscription.hpp"

namespace pgblit::runs {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A fence the catalog records as still in place on this source (a cutover run again keeps it).
bool fence_in_place(pg::Connection& source, pg::Connection& target, const std::string& catalog) {
  if (target.exec_params("SELECT to_regclass($1) IS NULL", {pg::quote_ident(catalog) + ".fences"}).boolean(0, 0)) {
    return false;
  }
  auto oid = source.exec("SELECT oid FROM pg_database WHERE datname = current_database()").text(0, 0);
  return target.exec_params(fmt::format("SELECT count(*) FROM {}.fences WHERE source_database = $1 AND lifted_at IS NULL",
                                        pg::quote_ident(catalog)),
                            {oid}).int64(0, 0) > 0;
}

// Every change up to the fence is on the target: the slot's subscriber confirmed it. An empty
// write after the fence position makes the walsender decode past it even on an idle source.
void wait_applied(pg::Connection& source, const FollowRecord& f, const std::string& lsn, double timeout,
                  pg::Cancellation& cancellation) {
  source.exec("BEGIN READ WRITE; SELECT txid_current(); COMMIT", f.slot);
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout);
  while (!source::slot_confirmed(source, f.slot, lsn)) {
    if (cancellation.requested()) throw cancellation.error(f.subscription);
    if (Clock::now() > deadline) {
      throw Error(ErrorKind::Runtime,
                  fmt::format("the target has not applied the source's changes up to {} after {:.0f} s", lsn, timeout),
                  f.subscription,
                  "see the target's log for the apply worker's error (a row it cannot apply); fix it, then run "
                  "pgblit cutover again (the source stays fenced)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the slot's confirmed position
  }
}

// Row counts per table on both sides, now that neither changes.
size_t check_counts(pg::Connection& source, pg::Connection& target, const plan::Plan& plan,
                    const nlohmann::json& prefilled) {
  std::vector<std::string> differ;
  size_t checked = 0;
  for (const auto& t : plan.tables) {
    if (std::find(prefilled.begin(), prefilled.end(), t.target) != prefilled.end()) {
      spdlog::warn("{} held rows before the copy: its row count is not compared", t.target);
      continue;
    }
    // Both sides at once: the count is the one step of the downtime that grows with the data.
    auto counting = std::async(std::launch::async, [&] {
      return source.exec_one(fmt::format("SELECT count(*) FROM ONLY {}{}", t.source,
                                         t.filter.empty() ? "" : " WHERE " + t.filter), t.source).int64(0, 0);
    });
    auto d = target.exec(fmt::format("SELECT count(*) FROM {}", t.target), t.target).int64(0, 0);
    auto s = counting.get();
    ++checked;
    if (s != d) differ.push_back(fmt::format("{}: source {} rows, target {}", t.target, s, d));
  }
  if (!differ.empty()) {
    for (const auto& d : differ) spdlog::error("differs: {}", d);
    throw Error(ErrorKind::Verification, fmt::format("row counts differ in {} tables after the catch-up", differ.size()),
                "", "the source stays fenced and the subscription in place: look into it, then pgblit cutover again "
                    "or pgblit unfollow");
  }
  return checked;
}

int set_sequences(pg::Connection& source, pg::Connection& target, const plan::Plan& plan) {
  std::vector<std::string> sources;
  std::vector<target::WrittenTable> written;
  for (const auto& t : plan.tables) {
    sources.push_back(t.source);
    written.push_back({t.target, t.columns});
  }
  auto advanced = target::advance_sequences(target, written, target::source_sequence_hints(source, sources, {}));
  for (const auto& note : advanced.notes) spdlog::warn("sequence {}", note);
  return advanced.set;
}

void drop_everything(pg::Connection& source, pg::Connection& target, const FollowRecord& f, const std::string& catalog) {
  target::drop_subscription(target, f.subscription);
  source::drop_slot(source, f.slot);
  if (!f.key_slot.empty()) source::drop_slot(source, f.key_slot);
  source::drop_publication(source, f.publication);
  forget_changed_keys(target, catalog, f.run_id);
}

// --check changes reads the key slot: gone (someone dropped it) or invalidated, the cutover
// would stop half-way with the server's error. Refused before anything is done instead (or,
// found after the fence, with the source left fenced: the cutover then starts from there).
void require_key_slot(pg::Connection& source, pg::Connection& target, const std::string& catalog,
                      const FollowRecord& f) {
  auto why = source::key_slot_unusable(source, f.key_slot);
  if (why.empty()) return;
  bool fenced = fence_in_place(source, target, catalog);
  throw usage_error(
      fmt::format("the key slot {} of run {} {}: --check changes (the default) reads from it which rows changed since "
                  "the copy's snapshot, and cannot check without it",
                  f.key_slot, f.run_id, why),
      f.key_slot,
      fmt::format("pgblit cutover {0} --check counts (every table's row count) or pgblit cutover {0} --check full "
                  "(every row's digest) do without it; {1}",
                  f.run_id, fenced ? "the source stays fenced and the subscription in place"
                                   : "nothing was done: the run still follows"));
}

// Reads the key slot up to `upto`, storing the keys on the target as it goes.
int64_t drain_keys(pg::Connection& source, pg::Connection& target, const std::string& catalog, const FollowRecord& f,
                   const plan::Plan& plan, const std::string& upto, bool advance) {
  return source::drain_key_slot(source, f.key_slot, f.publication, plan, upto, advance, [&](const source::ChangedKeys& keys) {
    store_changed_keys(target, catalog, f.run_id, keys);
  });
}

void check_changes(pg::Connection& source, pg::Connection& target, const CutoverOptions& o, const plan::Plan& plan,
                   CutoverResult& result) {
  auto started = Clock::now();
  auto checked = check_changed_rows(source, target, o.catalog_schema, o.run, plan);
  result.tables_checked = checked.tables;
  result.rows_compared = checked.rows;
  spdlog::info("{} changed rows compared in {} tables ({} compared whole) in {:.2f} s; the {} other tables are "
               "unchanged since the verified copy",
               checked.rows, checked.tables, checked.whole_tables, since(started), plan.tables.size() - checked.tables);
  if (!checked.differences.empty()) {
    for (const auto& d : checked.differences) spdlog::error("differs: {}", d);
    throw Error(ErrorKind::Verification,
                fmt::format("rows changed during the catch-up differ on the target ({})", checked.differences.front()),
                "", "the source stays fenced and the subscription in place: look into it, then pgblit cutover again "
                    "or pgblit unfollow");
  }
}

void write_cutover_file(const CutoverOptions& o, const CutoverResult& r) {
  if (o.run_dir.empty()) return;
  std::error_code error;
  auto dir = std::filesystem::path(o.run_dir) / std::to_string(o.run);
  create_private_directories(dir, error);
  std::ofstream(dir / "cutover.json") << nlohmann::json{{"run_id", o.run},
                                                        {"downtime_seconds", r.downtime_seconds},
                                                        {"catch_up_seconds", r.catch_up_seconds},
                                                        {"check", r.check},
                                                        {"key_slot_read_before_fence_seconds", r.drain_seconds},
                                                        {"rows_compared", r.rows_compared},
                                                        {"check_seconds", r.check_seconds},
                                                        {"tables_checked", r.tables_checked},
                                                        {"fence_lsn", r.fence_lsn},
                                                        {"sequences_set", r.sequences}}
                                             .dump(2)
                                      << "\n";
}

}  // namespace

CutoverResult cutover(const CutoverOptions& o, pg::Cancellation& cancellation) {
  auto target = pg::open_session(o.target, "target");
  auto source = pg::open_session(o.source, "source");
  mover::RunCatalog catalog(target, o.catalog_schema);
  auto run = catalog.load_run(o.run);
  FollowCatalog follows(target, o.catalog_schema);
  auto f = follows.load(o.run);
  if (!f || (f->state != "following" && f->state != "cutover")) {
    throw usage_error(fmt::format("run {} is not following ({}): there is nothing to cut over", o.run,
                                  f ? "its follow is " + f->state : "it was not started with copy --follow"),
                      o.catalog_schema, "pgblit status " + std::to_string(o.run) + " shows where it stands");
  }
  auto plan = plan::plan_from_json(run.plan);
  CutoverResult result;
  result.check = o.check;
  if (o.check == "changes" && f->key_slot.empty()) {
    spdlog::warn("run {} has no key slot (its copy predates it): its cutover checks row counts", o.run);
    result.check = "counts";
  }
  if (result.check == "changes") require_key_slot(source, target, o.catalog_schema, *f);
  create_changed_keys_table(target, o.catalog_schema);  // a catalog of an older pgblit gets the current shape
  follows.set(o.run, "state", "cutover");
  catalog.set_run_status(o.run, "cutover");
  if (result.check == "changes" && !run.options.value("verify", true)) {
    spdlog::warn("run {} was copied without verification: --check changes compares only the rows changed since; "
                 "--check full compares every row", o.run);
  }
  if (result.check == "changes") {
    // While the application still writes: the keys changed so far are read before the fence,
    // so the downtime reads only those of the last moments.
    // Decoding restarts at the slot's restart_lsn, which moves only to a running-transactions
    // record (the server logs one about every 15 s while it is written to): reading on until
    // one lies past the first read leaves the fence's read seconds of WAL, not up to 15 s worth.
    auto drain_started = Clock::now();
    auto flushed = [&] { return source.exec("SELECT pg_current_wal_flush_lsn()::text").text(0, 0); };
    auto first = flushed();
    int64_t read = drain_keys(source, target, o.catalog_schema, *f, plan, first, /*advance=*/true);
    bool fenced = fence_in_place(source, target, o.catalog_schema);  // a rerun: the wait would be downtime
    while (!fenced && since(drain_started) < 20 &&
           source.exec_params("SELECT restart_lsn < $2::pg_lsn AND pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) "
                              "> 65536 FROM pg_replication_slots WHERE slot_name = $1",
                              {f->key_slot, first}, f->key_slot).boolean(0, 0)) {
      if (cancellation.requested()) throw cancellation.error(f->key_slot);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // polling the fact: restart_lsn moved
      read += drain_keys(source, target, o.catalog_schema, *f, plan, flushed(), /*advance=*/true);
    }
    result.drain_seconds = since(drain_started);
    spdlog::info("{} changes since the snapshot read from the key slot in {:.2f} s, before the fence", read,
                 result.drain_seconds);
  }
  auto fence_started = Clock::now();
  if (fence_in_place(source, target, o.catalog_schema)) {
    spdlog::info("the source is already fenced (an earlier cutover of run {}): kept", o.run);
  } else {
    target::Fence fence(o.source, o.target, o.catalog_schema, o.fence_revoke, {source.backend_pid()});
    fence.leave_in_place();
  }
  result.fence_lsn = source::current_lsn(source);
  follows.set(o.run, "fence_lsn", result.fence_lsn);
  follows.set(o.run, "fenced_at", "now");
  spdlog::info("source fenced at {}: waiting for the target to apply everything up to it", result.fence_lsn);
  wait_applied(source, *f, result.fence_lsn, o.timeout, cancellation);
  result.catch_up_seconds = since(fence_started);
  spdlog::info("caught up in {:.2f} s after the fence", result.catch_up_seconds);
  auto check_started = Clock::now();
  if (result.check == "changes") {
    require_key_slot(source, target, o.catalog_schema, *f);  // dropped while the cutover waited
    auto read = drain_keys(source, target, o.catalog_schema, *f, plan, result.fence_lsn, /*advance=*/false);
    spdlog::info("{} more changes read from the key slot up to the fence in {:.2f} s", read, since(check_started));
    check_changes(source, target, o, plan, result);
  } else if (result.check == "full") {
    VerifyOptions verify = o;  // pgblit verify --run RUN over the run's own selection
    verify.run_id = o.run;
    for (const auto& s : run.options.value("schemas", nlohmann::json::array())) verify.selection.schemas.push_back(s);
    for (const auto& s : run.options.value("tables", nlohmann::json::array())) verify.selection.tables.push_back(s);
    for (const auto& s : run.options.value("excluded", nlohmann::json::array())) verify.selection.excluded.push_back(s);
    auto report = run_verify(verify, cancellation);
    if (!report.ok()) {
      throw Error(ErrorKind::Verification,
                  fmt::format("the target differs from the fenced source in {} chunks or tables", report.differences.size()),
                  "", "the source stays fenced and the subscription in place: pgblit verify names the rows; then "
                      "pgblit cutover again or pgblit unfollow");
    }
    result.tables_checked = plan.tables.size();
  } else {
    result.tables_checked = check_counts(source, target, plan, run.options.value("prefilled", nlohmann::json::array()));
  }
  result.check_seconds = since(check_started);
  result.sequences = set_sequences(source, target, plan);
  // The target is ready once nothing applies to it any more: the source's slots and
  // publication are dropped after that (outside the downtime), and the run is done only then,
  // so a crash in between leaves a run that cutover or unfollow finishes.
  target::drop_subscription(target, f->subscription);
  follows.set(o.run, "ready_at", "now");
  result.downtime_seconds = since(fence_started);
  drop_everything(source, target, *f, o.catalog_schema);
  follows.set(o.run, "state", "done");
  catalog.set_run_status(o.run, "done");
  spdlog::info("cutover of run {}: downtime {:.2f} s from the fence to the target ready (catch-up {:.2f} s, {} check "
               "{:.2f} s, {} sequences set); subscription, slot and publication dropped. The source stays fenced: "
               "pgblit unfence lifts it",
               o.run, result.downtime_seconds, result.catch_up_seconds, result.check, result.check_seconds, result.sequences);
  write_cutover_file(o, result);
  return result;
}

std::vector<int64_t> unfollow(const UnfollowOptions& options) {
  const std::string& catalog = options.catalog_schema;
  auto target = pg::open_session(options.target, "target");
  auto source = pg::open_session(options.source, "source");
  FollowCatalog follows(target, catalog);
  std::vector<FollowRecord> todo;
  if (!options.all) {
    auto f = follows.load(options.run);
    if (!f) {
      throw usage_error(fmt::format("run {} was not started with copy --follow", options.run), catalog,
                        "pgblit status lists the runs");
    }
    if (f->state != "done" && f->state != "unfollowed") todo.push_back(*f);
  } else {
    todo = follows.open_follows();
  }
  mover::RunCatalog runs(target, catalog);
  std::vector<int64_t> out;
  for (const auto& f : todo) {
    drop_everything(source, target, f, catalog);
    follows.set(f.run_id, "state", "unfollowed");
    runs.set_run_status(f.run_id, "unfollowed");
    spdlog::info("run {}: subscription {}, slot {} and publication {} dropped; the target keeps the rows as of the "
                 "copy's snapshot plus what was applied until now", f.run_id, f.subscription, f.slot, f.publication);
    out.push_back(f.run_id);
  }
  return out;
}

}  // namespace pgblit::runs
