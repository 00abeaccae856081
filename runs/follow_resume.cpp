// See follow_resume.hpp.
#include "runs/follow_resume.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "core/test_moment.hpp"
#include "mover/copy_pump.hpp"
#include "pg/replication.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "plan/copy_sql.hpp"
#include "runs/changed_rows_check.hpp"
#include "runs/follow_run.hpp"
#include "source/fingerprint.hpp"
#include "source/changed_keys.hpp"
#include "source/follow_source.hpp"
#include "verify/copy_digest.hpp"
#include "verify/ledger.hpp"

namespace pgblit::runs {
namespace {

using checksums::ChunkDigest;

constexpr size_t kKeysPerRead = 10000;  // keys one source statement looks up

bool publication_exists(pg::Connection& source, const std::string& name) {
  return source.exec_params("SELECT count(*) FROM pg_publication WHERE pubname = $1", {name}, name).int64(0, 0) > 0;
}

// `digest` less the rows taken out, plus the rows put in (sums wrap like the digest's own).
ChunkDigest moved(ChunkDigest digest, const ChunkDigest& out, const ChunkDigest& in) {
  digest.rows += in.rows - out.rows;
  digest.row_hash_sum += in.row_hash_sum - out.row_hash_sum;
  digest.key_hash_sum += in.key_hash_sum - out.key_hash_sum;
  return digest;
}

std::string changes_table(const std::string& catalog) { return pg::quote_ident(catalog) + ".follow_changes"; }

std::string target_relation(const plan::TableCopy& t) { return (t.target_partitioned ? "" : "ONLY ") + t.target; }

// The chunks of table `table` that are done, and whether every one of its chunks is.
std::vector<size_t> done_chunks(const plan::Plan& plan, size_t table, const std::vector<mover::ChunkRecord>& records,
                                bool& all_done) {
  std::vector<size_t> done;
  all_done = true;
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    if (plan.chunks[c].table != table) continue;
    if (records[c].done) done.push_back(c);
    else all_done = false;
  }
  return done;
}

// A table whose changes carry no key (a TRUNCATE, replica identity FULL): emptied, its chunks
// pending again, so the lanes copy it whole from the new snapshot. One transaction.
void recopy_whole(pg::Connection& target, const std::string& catalog, int64_t run, const plan::TableCopy& t,
                  const std::vector<size_t>& chunks, const std::set<std::string>& prefilled) {
  if (prefilled.count(t.target)) {
    throw usage_error(fmt::format("{} held rows before the copy and saw a TRUNCATE (or changes without a key) "
                                  "since: it cannot be emptied and copied again",
                                  t.target),
                      t.target, fmt::format("pgblit unfollow {}, then a new copy --follow", run));
  }
  std::vector<std::string> numbers;
  for (auto c : chunks) numbers.push_back(std::to_string(c));
  target.exec("BEGIN", t.target);
  try {
    // As the subscription's apply does: no trigger or foreign key fires for rows being put back.
    target.exec("SET LOCAL session_replication_role = replica", t.target);
    target.exec(fmt::format("DELETE FROM {}", target_relation(t)), t.target);
    target.exec_params(fmt::format("UPDATE {}.chunks SET status = 'pending', rows = NULL, bytes = NULL, "
                                   "source_digest = NULL, target_digest = NULL, format = NULL, finished_at = NULL "
                                   "WHERE run_id = $1 AND chunk = ANY($2::int[])",
                                   pg::quote_ident(catalog)),
                       {std::to_string(run), pg::text_array_literal(numbers)}, t.target);
    target.exec("COMMIT", t.target);
  } catch (...) {
    pg::rollback_quietly(target);
    throw;
  }
}

struct KeyShape {
  std::string row;         // ("a", "b")
  std::string definition;  // "a" bigint, "b" text
  std::string picked;      // pgblit_keys."a", pgblit_keys."b"
  std::string from_json;   // (key->>'a')::bigint, (key->>'b')::text
};

KeyShape key_shape(pg::Connection& source, const plan::TableCopy& t, const std::vector<std::string>& columns) {
  auto types = source.exec_params(
      "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass "
      "AND attname = ANY($2::text[]) AND attnum > 0 AND NOT attisdropped",
      {t.source, pg::text_array_literal(columns)}, t.source);
  std::map<std::string, std::string> type_of;
  for (int i = 0; i < types.rows(); ++i) type_of[types.text(i, 0)] = types.text(i, 1);
  KeyShape s;
  for (const auto& c : columns) {
    if (!type_of.count(c)) {
      throw Error(ErrorKind::Runtime, fmt::format("{} has no column {}, its replica identity", t.source, c), t.source,
                  "");
    }
    auto sep = [](const std::string& so_far) { return std::string(so_far.empty() ? "" : ", "); };
    s.row += sep(s.row) + pg::quote_ident(c);
    s.definition += sep(s.definition) + pg::quote_ident(c) + " " + type_of[c];
    s.picked += sep(s.picked) + "pgblit_keys." + pg::quote_ident(c);
    s.from_json += sep(s.from_json) + fmt::format("(key->>{})::{}", pg::quote_literal(c), type_of[c]);
  }
  s.row = "(" + s.row + ")";
  return s;
}

// One table's changed rows, in one target transaction: the target's rows of the changed keys
// digested and deleted, the source's rows of those keys within the chunks done read in the
// snapshot and loaded, the chunks' recorded digests moved by both. Returns the rows loaded.
int64_t reread_table(pg::Connection& source, pg::Connection& target, const std::string& catalog, int64_t run,
                     const plan::Plan& plan, size_t table, const std::vector<mover::ChunkRecord>& records,
                     const std::vector<size_t>& done, bool all_done, const std::vector<nlohmann::json>& keys,
                     bool by_chunk, pg::Cancellation& cancellation) {
  const auto& t = plan.tables[table];
  std::vector<std::string> columns;
  for (const auto& [column, value] : keys.front().items()) columns.push_back(column);
  auto shape = key_shape(source, t, columns);
  std::string on_target = fmt::format("{} IN (SELECT {} FROM {} WHERE run_id = {} AND table_name = {} AND key <> "
                                      "'{{}}')",
                                      shape.row, shape.from_json, changes_table(catalog), run,
                                      pg::quote_literal(t.source));
  // Without verification by chunk, a table's digests are only ever summed: its whole change is
  // booked on its first chunk done, and its rows are read in one statement per batch of keys.
  std::vector<std::pair<size_t, std::string>> parts;  // chunk booked, its rows' predicate
  if (by_chunk) {
    for (auto c : done) parts.emplace_back(c, plan.chunks[c].predicate);
  } else {
    std::string within;  // the chunks done (the lanes copy the others' rows from the snapshot)
    if (!all_done) {
      for (auto c : done) within += (within.empty() ? "(" : " OR (") + plan.chunks[c].predicate + ")";
    }
    parts.emplace_back(done.front(), within);
  }
  std::map<size_t, ChunkDigest> taken, put, read_back;
  int64_t rows = 0;
  mover::BlockPool pool;
  target.exec("BEGIN", t.target);
  try {
    target.exec("SET LOCAL session_replication_role = replica", t.target);  // as the subscription's apply
    for (const auto& [c, predicate] : parts) {
      auto format = records[c].format;
      taken[c] = verify::digest_copy_out(target, plan::target_copy_out_sql(t, pg::sql_and(by_chunk ? predicate : "", on_target), format),
                                         t, format, cancellation);
    }
    target.exec(fmt::format("DELETE FROM {} WHERE {}", target_relation(t), on_target), t.target);
    for (size_t at = 0; at < keys.size(); at += kKeysPerRead) {
      nlohmann::json batch = nlohmann::json::array();
      for (size_t i = at; i < std::min(keys.size(), at + kKeysPerRead); ++i) batch.push_back(keys[i]);
      std::string on_source = fmt::format("{} IN (SELECT {} FROM jsonb_to_recordset({}::jsonb) AS pgblit_keys({}))",
                                          shape.row, shape.picked, pg::quote_literal(batch.dump()), shape.definition);
      for (const auto& [c, predicate] : parts) {
        auto format = records[c].format;
        plan::Chunk rows_of = plan.chunks[c];
        rows_of.predicate = pg::sql_and(predicate, on_source);
        auto digester = verify::stream_digester(t, format);
        rows += mover::pump_copy(source, target, plan::copy_out_sql(t, rows_of, format), plan::copy_in_sql(t, format),
                                 pool, &digester, cancellation, t.source)
                    .rows;
        put[c] += digester.digest();
      }
    }
    for (const auto& [c, predicate] : parts) {
      if (!by_chunk || !records[c].target_digest) continue;  // read whole at the verdict
      auto format = records[c].format;
      read_back[c] = verify::digest_copy_out(target, plan::target_copy_out_sql(t, pg::sql_and(predicate, on_target), format),
                                             t, format, cancellation);
    }
    for (const auto& [c, predicate] : parts) {
      auto source_digest = moved(records[c].source_digest, taken[c], put[c]);
      std::optional<std::string> target_digest;
      if (read_back.count(c)) target_digest = moved(*records[c].target_digest, taken[c], read_back[c]).to_string();
      target.exec_params(fmt::format("UPDATE {}.chunks SET source_digest = $3, target_digest = COALESCE($4, "
                                     "target_digest) WHERE run_id = $1 AND chunk = $2",
                                     pg::quote_ident(catalog)),
                         {std::to_string(run), std::to_string(c), source_digest.to_string(), target_digest}, t.target);
    }
    target.exec("COMMIT", t.target);
  } catch (...) {
    pg::rollback_quietly(target);
    throw;
  }
  return rows;
}

// The source tables rewritten since the run began (a new file node: TRUNCATE, VACUUM FULL,
// CLUSTER, a rewriting ALTER TABLE): their rows may sit at other ctids than when their chunks
// were read, and a VACUUM FULL leaves nothing in the key slot, so they are copied again whole.
std::set<std::string> rewritten_tables(pg::Connection& source, pg::Connection& target, const std::string& catalog,
                                       int64_t run, const plan::Plan& plan) {
  auto before = nlohmann::json::parse(
      target.exec_params(fmt::format("SELECT source_state::text FROM {}.runs WHERE id = $1", pg::quote_ident(catalog)),
                         {std::to_string(run)}, catalog)
          .text(0, 0));
  auto now = source::source_state(source, plan);
  auto file_node = [](const nlohmann::json& state) {  // "inserted/updated/deleted/file node"
    auto text = state.is_string() ? state.get<std::string>() : std::string();
    return text.substr(text.rfind('/') + 1);
  };
  std::set<std::string> out;
  for (const auto& [table, state] : before.items()) {
    if (!now.contains(table) || file_node(now[table]) != file_node(state)) out.insert(table);
  }
  return out;
}

}  // namespace

bool follow_needs_new_slot(pg::Connection& target, const std::string& catalog, int64_t run,
                           const std::vector<mover::ChunkRecord>& records) {
  auto record = FollowCatalog(target, catalog).load(run);
  if (!record || record->state != "copying") return true;
  return std::any_of(records.begin(), records.end(), [](const mover::ChunkRecord& c) { return !c.done; });
}

std::string restart_follow(pg::Connection& coordinator, pg::Connection& target, const std::string& source_conninfo,
                           const std::string& catalog, int64_t run, const plan::Plan& plan) {
  FollowCatalog follows(target, catalog);
  follows.create_table();
  auto record = follows.load(run);
  if (!record) return start_follow(coordinator, target, source_conninfo, catalog, run, plan);  // killed before naming them
  std::string again = fmt::format("pgblit unfollow {}, then a new copy --follow", run);
  if (record->key_slot.empty()) {
    throw usage_error(fmt::format("run {} was started by a pgblit without a key slot: the rows changed since its "
                                  "snapshot cannot be found to resume it", run),
                      catalog, again);
  }
  {
    auto session = pg::open_session(source_conninfo, "source");
    if (record->state == "starting") {  // killed while creating them, before any chunk: what is missing
      if (!publication_exists(session, record->publication)) source::create_publication(session, record->publication, plan);
      if (!source::slot_state(session, record->key_slot).exists) source::create_key_slot(session, record->key_slot);
    } else if (!source::slot_state(session, record->key_slot).exists) {
      throw usage_error(fmt::format("run {}'s key slot {} is gone: the rows changed since its snapshot cannot be "
                                    "found to resume it", run, record->key_slot),
                        record->key_slot, again);
    }
    // From here until the changed rows are read again, a kill resumes the same way.
    follows.set(run, "state", "resuming");
    // Its consistent point is the dead snapshot's; the same name again, so unfollow finds it
    // whatever happens between the drop and the creation.
    source::drop_slot(session, record->slot);
  }
  pg::ReplicationConnection replication(source_conninfo);  // open until the coordinator imported its snapshot
  auto slot = replication.create_logical_slot(record->slot);
  pg::rollback_quietly(coordinator);
  pg::join_snapshot(coordinator, slot.snapshot);
  std::string snapshot = coordinator.exec("SELECT pg_export_snapshot()", "snapshot").text(0, 0);
  follows.set(run, "snapshot_lsn", slot.consistent_point);
  target.exec_params(fmt::format("UPDATE {}.runs SET snapshot_id = $2 WHERE id = $1", pg::quote_ident(catalog)),
                     {std::to_string(run), snapshot}, catalog);
  // Every change committed before the new snapshot, by key, stored where the cutover's check
  // reads them too; the key slot then starts where the subscription will.
  auto session = pg::open_session(source_conninfo, "source");
  int64_t changes = source::drain_key_slot(session, record->key_slot, record->publication, plan,
                                           slot.consistent_point, /*advance=*/true,
                                           [&](const source::ChangedKeys& keys) {
                                             store_changed_keys(target, catalog, run, keys);
                                           });
  spdlog::info("resuming run {}: slot {} created again at {} (snapshot {}); {} changes since the first snapshot read "
               "from the key slot",
               run, record->slot, slot.consistent_point, snapshot, changes);
  return snapshot;
}

Reread reread_changed_rows(const std::string& source_conninfo, const std::string& snapshot, pg::Connection& target,
                           const std::string& catalog, int64_t run, const plan::Plan& plan,
                           const std::vector<mover::ChunkRecord>& records, const std::set<std::string>& prefilled,
                           pg::Cancellation& cancellation) {
  auto started = std::chrono::steady_clock::now();
  Reread out;
  auto source = pg::open_session(source_conninfo, "source");
  pg::join_snapshot(source, snapshot);
  verify::Ledger ledger(plan, prefilled);
  auto rewritten = rewritten_tables(source, target, catalog, run, plan);
  for (size_t table = 0; table < plan.tables.size(); ++table) {
    const auto& t = plan.tables[table];
    bool all_done = false;
    auto done = done_chunks(plan, table, records, all_done);
    if (done.empty()) continue;  // the lanes copy all of it from the snapshot
    auto stored = target.exec_params(fmt::format("SELECT key::text FROM {} WHERE run_id = $1 AND table_name = $2",
                                                 changes_table(catalog)),
                                     {std::to_string(run), t.source}, t.source);
    bool whole = rewritten.count(t.source) > 0;
    if (stored.rows() == 0 && !whole) continue;  // unchanged: its rows are the snapshot's
    std::vector<nlohmann::json> keys;
    for (int i = 0; i < stored.rows(); ++i) {
      keys.push_back(nlohmann::json::parse(stored.text(i, 0)));
      whole = whole || keys.back().empty();
    }
    ++out.tables;
    if (whole) {
      std::vector<size_t> all;
      for (size_t c = 0; c < plan.chunks.size(); ++c) {
        if (plan.chunks[c].table == table) all.push_back(c);
      }
      recopy_whole(target, catalog, run, t, all, prefilled);
      ++out.whole_tables;
      spdlog::info("{}: {}: copied again whole", t.source,
                   rewritten.count(t.source) ? "rewritten since the run began (TRUNCATE, VACUUM FULL, CLUSTER)"
                                             : "changed without keys (no replica identity key)");
      core::table_reread(cancellation);
      continue;
    }
    int64_t rows = reread_table(source, target, catalog, run, plan, table, records, done, all_done, keys,
                                ledger.method(table) == verify::Method::ByChunk, cancellation);
    out.keys += static_cast<int64_t>(keys.size());
    out.rows += rows;
    spdlog::info("{}: {} keys changed since the first snapshot, {} rows within the chunks done read again",
                 t.source, keys.size(), rows);
    core::table_reread(cancellation);
  }
  pg::rollback_quietly(source);
  FollowCatalog(target, catalog).set(run, "state", "copying");
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("resuming run {}: {} keys changed in the {} tables already copied, {} rows read again from the new "
               "snapshot ({} tables to copy again whole) in {:.2f} s",
               run, out.keys, out.tables, out.rows, out.whole_tables, out.seconds);
  return out;
}

}  // namespace pgblit::runs
