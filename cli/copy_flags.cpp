// See copy_flags.hpp.
#include "cli/copy_flags.hpp"

#include <cmath>

#include "cli/common_flags.hpp"
#include "cli/plan_command.hpp"

namespace pgblit::cli {

void add_copy_flags(CLI::App& cmd, CopyCommand& copy) {
  auto& options = copy.options;
  add_connection_flags(cmd, options.source, options.target);
  add_selection_flags(cmd, options.selection);
  add_jobs_flag(cmd, options.jobs, "chunks copied at once, each with a source and a target connection");
  cmd.add_flag("--follow", options.follow,
               "keep the source online: copy from a logical replication slot's snapshot, then let a subscription "
               "on the target apply the source's changes until pgblit cutover (docs/follow.md)");
  cmd.add_option("--subscription-source", options.subscription_conninfo,
                 "with --follow: the connection string the target's server uses to reach the source (default: "
                 "--source)");
  add_on_existing_flag(cmd, options.on_existing,
                       "target tables that already hold rows: error (refuse, the default), truncate (empty them "
                       "first), append (load beside them)");
  add_chunk_size_flag(cmd, options.chunk_bytes);
  cmd.add_flag("--disable-triggers", options.disable_triggers,
               "load with session_replication_role = replica: no triggers, no foreign-key checks (superuser)");
  add_verify_flag(cmd, options.verify,
                  "full (default): digest every row on both sides and compare, chunk by chunk; off: skip");
  add_no_analyze_flag(cmd, options.analyze, "do not ANALYZE the target tables after the copy");
  add_indexes_flag(cmd, options.defer_indexes,
                   "defer (default): drop the indexes, primary keys, unique, exclusion and foreign-key constraints of "
                   "target tables that are empty, load, then rebuild them in parallel; keep: load with them in place");
  cmd.add_flag("--create-schema", options.create_schema,
               "create the selected tables on the target from the source first (pg_dump and pg_restore of their "
               "schema: types, sequences, tables; indexes and constraints rebuilt after the load; triggers, policies "
               "and rules applied last). -n/--schema selects schemas, as in pg_dump");
  cmd.add_flag("--no-owner", options.no_owner, "with --create-schema: do not set the objects' owners (pg_restore --no-owner)");
  cmd.add_flag("--no-acl", options.no_acl, "with --create-schema: do not restore privileges (pg_restore --no-acl)");
  add_index_jobs_flag(cmd, options.index_jobs,
                      "indexes and constraints rebuilt at once, each on a target connection of its own (default: -j)");
  add_yes_flag(cmd, copy.yes);
  add_catalog_schema_flag(cmd, options.catalog_schema);
  auto* resume = cmd.add_option("--resume", copy.resume_run,
                                "continue run RUN_ID (default: the latest unfinished run): chunks already done "
                                "are skipped; a finished run is refused")
                     ->expected(0, 1);
  cmd.add_option("--join", options.join_run,
                 "work on running run RUN_ID beside its coordinator, in its snapshot (any host)")
      ->check(run_id_number());
  cmd.add_flag("--allow-source-changes", options.allow_source_changes,
               "resume even if the source tables changed since the run began");
  cmd.add_option("--max-rejects", options.max_rejects,
                 "rows the target may refuse (constraint, encoding, length) before the run fails; they are set "
                 "aside in the rejects files and the rest loads (default: 0, the first refused row fails its chunk)")
      ->check(count_number());
  cmd.add_option("--rejects-dir", options.rejects_dir,
                 "folder for rejected rows, one file a chunk, written before the chunk commits; checked to be "
                 "writable before the first row moves (default: pgblit-rejects)");
  cmd.add_option("--retry-timeout", options.retry_timeout,
                 "seconds a chunk keeps retrying after a lost connection or server restart (default: 300)")
      ->check([](const std::string& text) -> std::string {
        double seconds = 0;
        bool ok = CLI::detail::lexical_cast(text, seconds) && std::isfinite(seconds) && seconds >= 0;
        return ok ? "" : "the retry timeout is a number of seconds, 0 or more";
      });
  cmd.add_option("--progress", copy.progress,
                 "auto (default: a bar on a terminal, else a log line every --progress-interval), bar, log, json "
                 "(every event as a JSON line on stdout, docs/events.md), off")
      ->check(CLI::IsMember({"auto", "bar", "log", "json", "off"}));
  cmd.add_option("--progress-interval", copy.progress_interval,
                 "seconds between progress lines when not drawing a bar (default: 10)")
      ->check(CLI::Range(0.5, 3600.0));
  cmd.add_option("--run-dir", copy.run_dir,
                 "folder of run folders: RUN_ID/ gets pgblit.log (debug), events.jsonl, report.json, report.html "
                 "(default: pgblit-runs)");
  cmd.add_option("--on-event", copy.on_event,
                 "run this shell command at the start, at every phase change and at the end, with the event in "
                 "PGBLIT_EVENT, PGBLIT_RUN_ID, PGBLIT_PHASE, PGBLIT_EXIT_CODE and as JSON on its standard input; "
                 "a hook that fails or hangs is logged and never stops the run");
  cmd.add_option("--on-event-timeout", copy.on_event_timeout, "seconds a hook may run before it is stopped (default: 30)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd.add_flag("--dry-run", copy.dry_run,
               "do not copy: the dry run of this copy, as pgblit plan (findings, go or no-go: exit 0 or 5)");
  add_dry_run_flags(cmd, copy.dry_run_options, "with --dry-run: ");
  cmd.add_option("--spool", options.spool_dir,
                 "also write every chunk's stream to this folder as a zstd file, by the same read, with a manifest: "
                 "a backup that pgblit restore (or zstd -dc | psql \\copy) loads (docs/spool.md)");
  add_spool_level_flag(cmd, options.spool_level, "zstd level of the spool (default: 3)");
  add_mapping_flag(cmd, options.mapping_file);
  cmd.add_option("--backup-target", options.backup_target_dir,
                 "before writing, spool the target tables that hold rows into this folder, so pgblit rollback "
                 "RUN_ID can put them back (tables that are empty need no backup)");
  cmd.add_flag("--fence", options.fence,
               "offline move: the source database read-only for everyone else during the run (its default set to "
               "read-only, other sessions ended), recorded in the run catalog first and lifted at the end, on "
               "failure and on Ctrl-C; after a crash, pgblit unfence (needs the database's owner)");
  cmd.add_option("--fence-revoke", options.fence_revoke,
                 "with --fence: also revoke CONNECT on the source database from this role for the run (repeatable)");
  cmd.add_option("--keep", copy.keep, "with --spool: the spool expires after this long (90d, 12h, 30m; "
                                      "pgblit spool prune removes it then; default: never)");
  cmd.add_option("--metrics-file", copy.metrics_file,
                 "write the run's figures (rows, bytes, chunks done and planned, rejects, phase durations, exit "
                 "code) to this file in the Prometheus text format, replaced whole every --progress-interval and "
                 "at the end (for node_exporter's textfile collector)");
  add_window_flag(cmd, options.window_seconds);
  add_job_flag(cmd, copy.job);
  cmd.callback([&options, resume] { options.resume = resume->count() > 0; });
}

}  // namespace pgblit::cli
