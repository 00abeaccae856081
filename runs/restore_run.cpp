// See restore_run.hpp.
#include "runs/restore_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "checksums/copy_framer.hpp"
#include "core/defaults.hpp"
#include "mover/deferred_rebuild.hpp"
#include "mover/parallel.hpp"
#include "mover/copy_pump.hpp"
#include "runs/copy_run.hpp"
#include "runs/spool_catalog.hpp"
#include "mover/run_catalog.hpp"
#include "target/target_claims.hpp"
#include "core/test_moment.hpp"
#include "target/sequences.hpp"
#include "plan/copy_sql.hpp"
#include "target/deferred.hpp"
#include "target/target_prep.hpp"
#include "verify/copy_digest.hpp"
#include "pg/retry.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "spool/manifest.hpp"

namespace pgblit::runs {
namespace {

using spool::Manifest;
using spool::SpoolChunk;

using Clock = std::chrono::steady_clock;

// "schema.table" or "schema"."table" → "schema"."table" for comparison with the manifest.
std::string quoted(const std::string& name) {
  if (name.starts_with('"')) return name;
  auto dot = name.find('.');
  return dot == std::string::npos ? pg::qualified_name("public", name)
                                  : pg::qualified_name(name.substr(0, dot), name.substr(dot + 1));
}

class Restore {
 public:
  Restore(const RestoreOptions& options, pg::Cancellation& cancellation)
      : options_(options), cancellation_(cancellation), dir_(options.spool_dir),
        manifest_(spool::read_manifest(dir_)) {}

  RestoreSummary run() {
    auto started = Clock::now();
    if (!manifest_.complete) {
      throw usage_error(fmt::format("the spool {} is incomplete: the copy that writes it did not finish", dir_.string()),
                        dir_.string(), fmt::format("finish it with pgblit copy --resume {} (its run), or use a complete spool",
                                                   manifest_.run_id));
    }
    std::set<size_t> tables = selected_tables();
    auto target = pg::open_session(options_.target, "target");
    pg::Cancellation::Watch watch(cancellation_, target);
    // The manifest's tables and columns checked against the target's catalog; every name in
    // SQL from here on is the catalog's.
    spooled_ = spool_plan(target, manifest_, tables, SpoolSide::Target);
    for (size_t t = 0; t < spooled_.table_of.size(); ++t) plan_table_[spooled_.table_of[t]] = t;
    auto levels = load_levels(target, tables);  // a cycle is refused before anything is written
    const auto& plan = spooled_.plan;
    // One command per target table at a time, and none over indexes another run left dropped.
    if (!options_.tables_locked_by_caller) target::lock_target_tables(target, plan.target_tables());
    // An earlier restore of these tables from this spool is resumed: its run numbers the
    // chunks, and says which are in already.
    mover::RunCatalog earlier(target, options_.catalog_schema);
    int64_t run_id = restore_run_id(target, earlier, tables);
    std::vector<size_t> run_tables(tables.begin(), tables.end());
    if (run_id != 0) run_tables = earlier.load_run(run_id).options.value("spool_tables", run_tables);
    number_run_chunks(run_tables);
    std::set<size_t> already = restored_before(earlier, run_id);
    target::refuse_pending_objects_of_other_runs(target, plan.target_tables(), options_.catalog_schema, {run_id}, "restore");
    // Tables that hold rows are refused, or (--on-existing truncate) emptied once confirmed:
    // both before anything is written.
    bool empty_first = already.empty() && refuse_or_confirm_filled(target, plan);
    mover::RunCatalog(target, options_.catalog_schema).create_schema();  // refuses others' tables of its names
    for (const auto& c : manifest_.chunks) {
      if (tables.contains(c.table) && !already.contains(c.index)) todo_.push_back(&c);
    }
    RestoreSummary summary;
    summary.tables = tables.size();
    summary.chunks_before = already.size();
    if (empty_first) {
      target::truncate_target_tables(target, plan);
      spdlog::info("truncated {} target tables", plan.tables.size());
    }
    mover::RunCatalog catalog(target, options_.catalog_schema);
    if (run_id == 0) {
      // The copy's deferral: indexes and constraints dropped (their definitions recorded in the
      // run catalog in the same transaction), rebuilt in parallel as tables complete.
      auto deferral = options_.defer_indexes ? target::plan_deferral(target, plan, {}) : target::Deferral{};
      target.exec("BEGIN", options_.catalog_schema);
      catalog.create_schema();
      run_id = catalog.create_run(plan,
                                  {{"kind", "restore"}, {"restore_of", manifest_.id}, {"spool", dir_.string()},
                                   {"spool_tables", run_tables}},
                                  "", nlohmann::json::object());
      mover::DeferredRebuild::record_and_drop(catalog, target, run_id, deferral);
      target.exec("COMMIT", options_.catalog_schema);
      if (!deferral.objects.empty()) {
        spdlog::info("deferred {} indexes and constraints until their tables are restored", deferral.objects.size());
      }
    } else {
      spdlog::info("resuming the restore of spool {}: {} chunks are in already", manifest_.id, already.size());
      catalog.set_run_status(run_id, "running");
    }
    catalog.hold_run(run_id);
    run_id_ = run_id;
    mover::DeferredRebuild rebuild(catalog, run_id, plan, options_.target, options_.jobs, cancellation_, options_.retry_timeout);
    // Parents before children, wave by wave: the target's foreign keys check every restored row.
    std::vector<const SpoolChunk*> all = std::move(todo_);
    std::vector<std::string> loaded;  // tables whose every chunk is in
    try {
      for (size_t level = 0; level < levels.size(); ++level) {
        todo_.clear();
        next_ = 0;
        for (const auto* c : all) {
          if (levels[level].contains(c->table)) todo_.push_back(c);
        }
        mover::run_in_parallel(options_.jobs, cancellation_, [this] { lane(); });
        for (size_t t : levels[level]) {
          rebuild.table_loaded(target_name(t));
          loaded.push_back(target_name(t));
        }
      }
      if (!still_connected(target)) {  // the target restarted while the lanes rode it out
        pg::Retry retry(options_.retry_timeout, cancellation_);
        for (;;) {
          try {
            target = pg::open_session(options_.target, "target");
            break;
          } catch (const Error& e) {
            if (!retry.again(e, "the restore's own target session")) throw;
          }
        }
        if (!options_.tables_locked_by_caller) target::lock_target_tables(target, plan.target_tables());
        catalog.hold_run(run_id);
      }
    } catch (...) {
      // `status` tells a stopped restore from a running one, with the chunks it committed.
      try {
        catalog.set_run_status(run_id, "failed");
      } catch (const std::exception&) {
      }
      rebuild.stop();
      mover::settle_after_failure(options_.target, options_.catalog_schema, run_id, plan, loaded, options_.jobs,
                           cancellation_, options_.retry_timeout);
      throw;
    }
    if (size_t failed = rebuild.finish(target); failed > 0) {
      catalog.set_run_status(run_id, "failed");
      throw Error(ErrorKind::Runtime,
                  fmt::format("{} deferred indexes or constraints could not be rebuilt; the data is restored, and they "
                              "stay recorded as pending in {}.objects", failed, options_.catalog_schema),
                  options_.catalog_schema,
                  "the errors above say why: where they name offending rows, fix those on the target (or the "
                  "constraint); then the same restore again rebuilds only what is pending");
    }
    restore_sequences(target);
    catalog.set_run_status(run_id, "done");
    if (options_.analyze) {
      for (size_t t : tables) target.exec("ANALYZE " + target_name(t), target_name(t));
    }
    summary.chunks = loaded_chunks_;
    summary.rows = rows_;
    summary.bytes = bytes_;
    summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return summary;
  }

 private:
  // Manifest table `t`'s name as the target's catalog has it.
  const std::string& target_name(size_t t) const { return spooled_.plan.tables[plan_table_.at(t)].target; }

  // Each manifest chunk's number in the run catalog: its place among the chunks of the tables
  // the run was started with (a resume with other -t keeps the first start's numbering).
  void number_run_chunks(const std::vector<size_t>& run_tables) {
    std::set<size_t> in_run(run_tables.begin(), run_tables.end());
    size_t n = 0;
    for (const auto& c : manifest_.chunks) {
      if (in_run.contains(c.table)) run_chunk_[c.index] = n++;
    }
  }

  std::set<size_t> selected_tables() {
    std::set<size_t> out;
    std::set<std::string> wanted;
    for (const auto& t : options_.tables) wanted.insert(quoted(t));
    for (size_t i = 0; i < manifest_.tables.size(); ++i) {
      if (wanted.empty() || wanted.contains(manifest_.tables[i].target)) out.insert(i);
    }
    for (const auto& w : wanted) {
      bool found = false;
      for (size_t i : out) found |= manifest_.tables[i].target == w;
      if (!found) {
        throw usage_error(fmt::format("table {} is not in the spool {}", w, dir_.string()), w,
                          "`pgblit spool ls` lists what a spool holds");
      }
    }
    return out;
  }

  // The restored tables in waves: each wave's tables reference (on the target) only tables of
  // earlier waves. A cycle cannot be ordered and is refused before anything is written.
  std::vector<std::set<size_t>> load_levels(pg::Connection& target, const std::set<size_t>& tables) {
    std::vector<std::string> names;
    std::map<std::string, size_t> index_of;
    for (size_t t : tables) {
      index_of[target_name(t)] = t;
      names.push_back(target_name(t));
    }
    auto fks = target.exec_params(R"(
SELECT c.name, p.name FROM unnest($1::text[]) c(name) JOIN pg_constraint k ON k.conrelid = c.name::regclass AND k.contype = 'f'
JOIN unnest($1::text[]) p(name) ON k.confrelid = p.name::regclass AND p.name <> c.name)",
                                  {pg::text_array_literal(names)}, "foreign keys");
    std::map<size_t, std::set<size_t>> parents;
    for (int i = 0; i < fks.rows(); ++i) parents[index_of.at(fks.text(i, 0))].insert(index_of.at(fks.text(i, 1)));
    std::vector<std::set<size_t>> levels;
    std::set<size_t> placed;
    while (placed.size() < tables.size()) {
      std::set<size_t> level;
      for (size_t t : tables) {
        if (placed.contains(t)) continue;
        bool ready = true;
        for (size_t p : parents[t]) ready &= placed.contains(p);
        if (ready) level.insert(t);
      }
      if (level.empty()) {
        std::vector<std::string> stuck;
        for (size_t t : tables) {
          if (!placed.contains(t)) stuck.push_back(target_name(t));
        }
        throw usage_error(fmt::format("the target's foreign keys among {} form a cycle: no table can be loaded first",
                                      fmt::join(stuck, ", ")),
                          stuck.front(), "drop one foreign key of the cycle for the restore, and add it back after");
      }
      placed.insert(level.begin(), level.end());
      levels.push_back(std::move(level));
    }
    return levels;
  }

  // The spool's sequences that the target has get their values (never used: left alone).
  // The sequences of the restored tables' columns: past what the columns hold and the values
  // the spool recorded, never back (a target in use keeps what it handed out).
  void restore_sequences(pg::Connection& target) {
    target::SequenceHints hints;
    for (const auto& [name, value] : manifest_.sequences) {
      if (value.empty()) continue;
      auto r = target.exec_params("SELECT format('\"%s\".\"%s\"', replace(n.nspname, '\"', '\"\"'), "
                                  "replace(c.relname, '\"', '\"\"')) FROM pg_class c JOIN pg_namespace n "
                                  "ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                                  {name}, name);
      if (r.rows() == 1) hints.by_sequence[r.text(0, 0)] = std::stoll(value);
    }
    std::vector<target::WrittenTable> written;
    for (const auto& t : spooled_.plan.tables) written.push_back({t.target, t.columns});
    auto advanced = target::advance_sequences(target, written, hints);
    for (const auto& note : advanced.notes) spdlog::warn("sequence {}", note);
    spdlog::info("sequences of the restored columns: {} moved forward, {} already past every restored value",
                 advanced.set, advanced.already);
  }

  // The catalog's run of an earlier restore of this spool into this target that began with
  // (at least) the selected tables, or 0. Each table of a spool is restored by one run, so
  // its chunks are claimed in one place: a selection that only partly overlaps an earlier
  // run's tables is refused.
  int64_t restore_run_id(pg::Connection& target, mover::RunCatalog& catalog, const std::set<size_t>& tables) const {
    if (!catalog.exists()) return 0;
    auto r = target.exec_params(fmt::format("SELECT id, options -> 'spool_tables' FROM {}.runs WHERE "
                                            "options->>'restore_of' = $1 ORDER BY id DESC",
                                            pg::quote_ident(options_.catalog_schema)),
                                {manifest_.id}, options_.catalog_schema);
    for (int i = 0; i < r.rows(); ++i) {
      std::set<size_t> began_with;
      if (!r.is_null(i, 1)) began_with = nlohmann::json::parse(r.text(i, 1)).get<std::set<size_t>>();
      std::vector<std::string> shared, others;
      for (size_t t : tables) (began_with.contains(t) ? shared : others).push_back(manifest_.tables[t].target);
      if (others.empty()) return r.int64(i, 0);
      if (!shared.empty()) {
        throw usage_error(fmt::format("restore run {} of this spool began with {} but not {}: each table of a spool "
                                      "is restored by one run",
                                      r.int64(i, 0), fmt::join(shared, ", "), fmt::join(others, ", ")),
                          others.front(), "restore those tables in a restore of their own (-t)");
      }
    }
    return 0;
  }

  // The chunks of this spool the restore run `run` committed, by manifest chunk (none for a
  // first start): the run catalog's chunks, claimed and marked in each chunk's transaction.
  std::set<size_t> restored_before(mover::RunCatalog& catalog, int64_t run) {
    std::set<size_t> out;
    if (run == 0) return out;
    auto records = catalog.chunks(run, run_chunk_.size());
    for (const auto& [manifest_chunk, run_chunk] : run_chunk_) {
      if (records[run_chunk].done) out.insert(manifest_chunk);
    }
    return out;
  }

  // True when the target tables hold rows and are to be emptied (--on-existing truncate,
  // confirmed); throws a usage error, nothing written, when they hold rows otherwise.
  bool refuse_or_confirm_filled(pg::Connection& target, const plan::Plan& plan) {
    auto filled = target::target_tables_with_rows(target, plan);
    if (filled.empty()) return false;
    if (!options_.truncate) {
      throw usage_error(fmt::format("target tables already hold rows: {}", fmt::join(filled, ", ")), filled[0],
                        "empty them, or restore with --on-existing truncate (empties them first)");
    }
    std::string what = fmt::format("About to empty {} target tables that hold rows ({}) on {} and restore the spool {} "
                                   "into them.",
                                   filled.size(), fmt::join(filled, ", "), target.display(), dir_.string());
    if (options_.confirm && !options_.confirm(what)) {
      throw usage_error("the restore was not confirmed: nothing was written", filled[0],
                        "answer yes, or pass --yes to confirm from a script");
    }
    return true;
  }

  // A lane rides out a target restart like copy's (pg/retry.hpp): a chunk whose transaction
  // died is loaded again on a new session; one that committed is seen claimed and skipped.
  void lane() {
    auto target = pg::open_session(options_.target, "target");
    pg::Cancellation::Watch watch(cancellation_, target);
    mover::BlockPool blocks;
    for (size_t i = next_++; i < todo_.size() && !cancellation_.requested(); i = next_++) {
      pg::Retry retry(options_.retry_timeout, cancellation_);
      for (;;) {
        try {
          if (!target.alive()) target = pg::open_session(options_.target, "target");
          mover::RunCatalog catalog(target, options_.catalog_schema);
          load(target, catalog, blocks, *todo_[i]);
          break;
        } catch (const Error& e) {
          if (retry.again(e, fmt::format("restoring chunk {}", todo_[i]->index))) continue;
          record_failure(target, *todo_[i], e.what());
          throw;
        } catch (const std::exception& e) {
          record_failure(target, *todo_[i], e.what());
          throw;
        }
      }
    }
  }

  static bool still_connected(pg::Connection& target) {
    try {
      target.exec("SELECT 1");
      return true;
    } catch (const Error& e) {
      if (!e.transient()) throw;
      return false;
    }
  }

  void record_failure(pg::Connection& target, const SpoolChunk& chunk, const std::string& error) {
    auto c = run_chunk_.find(chunk.index);
    if (c == run_chunk_.end() || !target.alive()) return;
    try {
      mover::RunCatalog(target, options_.catalog_schema).record_failure(run_id_, c->second, error, worker_name());
    } catch (const std::exception&) {
    }
  }

  // One chunk, one transaction: claimed in the run catalog (as copy's chunks), streamed with its digest taken,
  // committed only when the file was whole and the digest is the manifest's.
  void load(pg::Connection& target, mover::RunCatalog& catalog, mover::BlockPool& blocks, const SpoolChunk& chunk) {
    auto started = Clock::now();
    const auto& table = spooled_.plan.tables[plan_table_.at(chunk.table)];
    auto format = plan::format_from_name(chunk.format);
    auto path = dir_ / chunk.file;
    target.exec("BEGIN", table.target);
    try {
      size_t run_chunk = run_chunk_.at(chunk.index);
      if (!catalog.claim(run_id_, run_chunk)) {  // done already, or another restore of this spool has it
        target.exec("ROLLBACK", table.target);
        return;
      }
      auto digester = verify::stream_digester(table, format);
      int64_t bytes = 0;
      {
        mover::TargetCopyIn load(target, plan::copy_in_sql(table, format), table.target);
        mover::SpoolFileSource file(path);  // a damaged file's failure names it
        bytes = pump_chunk(file, {&load}, blocks, &digester, cancellation_, table.target).bytes;
      }
      if (!(digester.digest() == chunk.digest)) {
        throw Error(ErrorKind::Runtime,
                    fmt::format("the spool file {} does not hold the rows its manifest describes ({} rows read, {} "
                                "expected, or their digest differs)",
                                path.string(), digester.digest().rows, chunk.digest.rows),
                    path.string(), "nothing of this chunk was committed; use another copy of the spool, or copy again");
      }
      mover::ChunkDone done;
      done.rows = chunk.rows;
      done.bytes = bytes;
      done.source_digest = chunk.digest;
      done.format = format;
      done.worker = worker_name();
      done.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      catalog.mark_done(run_id_, run_chunk, done);
      target.exec("COMMIT", table.target);
      rows_ += chunk.rows;
      bytes_ += bytes;
      ++loaded_chunks_;
    } catch (...) {
      pg::rollback_quietly(target);
      throw;
    }
    core::chunk_committed(cancellation_);
  }

  const RestoreOptions& options_;
  pg::Cancellation& cancellation_;
  std::filesystem::path dir_;
  Manifest manifest_;
  SpoolPlan spooled_;
  std::map<size_t, size_t> plan_table_;  // manifest table -> spooled_.plan table
  std::map<size_t, size_t> run_chunk_;   // manifest chunk -> the run catalog's chunk
  int64_t run_id_ = 0;
  std::vector<const SpoolChunk*> todo_;
  std::atomic<size_t> next_{0}, loaded_chunks_{0};
  std::atomic<int64_t> rows_{0}, bytes_{0};
};

}  // namespace

RestoreSummary restore(const RestoreOptions& options, pg::Cancellation& cancellation) {
  return Restore(options, cancellation).run();
}

}  // namespace pgblit::runs
