// See plan_command.hpp.
#include "core/defaults.hpp"
#include "cli/plan_command.hpp"
#include "cli/follow_commands.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <algorithm>
#include <memory>
#include <set>

#include "cli/common_flags.hpp"
#include "cli/job_file.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "dryrun/dry_run.hpp"
#include "mover/run_setup.hpp"
#include "report/kept_estimate.hpp"
#include "target/deferred.hpp"
#include "target/target_prep.hpp"

namespace pgblit::cli {
namespace {


void print_findings(const dryrun::DryRun& dry_run) {
  for (auto severity : {dryrun::Severity::Error, dryrun::Severity::Warning, dryrun::Severity::Info}) {
    size_t n = 0;
    for (const auto& f : dry_run.findings) n += f.severity == severity;
    if (n == 0) continue;
    fmt::print("\n{} {}{}:\n", n, dryrun::to_string(severity), n == 1 ? "" : "s");
    for (const auto& f : dry_run.findings) {
      if (f.severity != severity) continue;
      fmt::print("  [{}] {}: {}{}{}{}\n", f.check, printable(f.object), printable(f.message),
                 f.rows >= 0 ? fmt::format(" ({}{} rows)", f.estimated ? "about " : "", f.rows) : "",
                 f.example.empty() ? "" : ", e.g. " + printable(f.example), f.fix.empty() ? "" : "; fix: " + f.fix);
    }
  }
  fmt::print("\nEstimate:\n");
  for (const auto& line : dryrun::describe(dry_run.estimate)) fmt::print("  {}\n", line);
  fmt::print("\n{}\n", dry_run.verdict);
}

// What a copy would drop and rebuild, largest table first, and what it keeps, with why.
void print_deferral(const target::Deferral& deferral) {
  auto objects = deferral.objects;
  std::stable_sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
    if ((a.kind == target::ObjectKind::ForeignKey) != (b.kind == target::ObjectKind::ForeignKey)) {
      return b.kind == target::ObjectKind::ForeignKey;
    }
    return a.table_bytes > b.table_bytes;
  });
  if (!objects.empty()) {
    fmt::print("\nDeferred: dropped before loading, rebuilt in this order as their tables complete ({} objects; "
               "foreign keys once both of their tables are loaded):\n", objects.size());
    for (const auto& o : objects) fmt::print("  {}\n", printable(o.describe()));
  }
  if (!deferral.kept.empty()) {
    fmt::print("\nKept in place while loading:\n");
    for (const auto& k : deferral.kept) fmt::print("  {}: {}\n", printable(k.what), k.why);
  }
}

void print_table(const plan::Plan& plan) {
  std::vector<size_t> chunks(plan.tables.size());
  for (const auto& c : plan.chunks) ++chunks[c.table];
  fmt::print("{:<40} {:<24} {:<10} {:>12} {:>10} {:>6}  {}\n", "table", "key", "method", "est. rows", "size",
             "chunks", "format");
  std::vector<std::string> notes;  // why a method was chosen, where the method says so
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    const auto& t = plan.tables[i];
    std::string key = t.key.empty() ? "-" : "(" + fmt::format("{}", fmt::join(t.key, ", ")) + ")";
    std::string method = t.chunking;
    if (auto open = method.find(" ("); open != std::string::npos && method.back() == ')') {
      notes.push_back(fmt::format("{} {}: {}", method.substr(0, open), printable(t.source),
                                  method.substr(open + 2, method.size() - open - 3)));
      method = fmt::format("{} [{}]", method.substr(0, open), notes.size());
    }
    fmt::print("{:<40} {:<24} {:<10} {:>12} {:>10} {:>6}  {}\n", printable(t.source), printable(key), method,
               t.estimated_rows < 0 ? "?" : std::to_string(t.estimated_rows),
               human_bytes(static_cast<double>(t.estimated_bytes)), chunks[i],
               t.format == plan::CopyFormat::Binary ? "binary" : "text");
  }
  fmt::print("{} tables, {} chunks, about {}\n", plan.tables.size(), plan.chunks.size(),
             human_bytes(static_cast<double>(plan.estimated_bytes())));
  for (size_t n = 0; n < notes.size(); ++n) fmt::print("[{}] {}\n", n + 1, notes[n]);
  for (const auto& t : plan.tables) {  // --mapping: the rows each table keeps, and why
    if (!t.filter.empty()) fmt::print("rows of {}: WHERE {} ({})\n", printable(t.source), printable(t.filter), t.filter_reason);
    const auto& keys = t.new_keys;  // a merge: how many keys it takes, and where from (they fit: the plan checked)
    if (keys.kind == "sequence" && keys.count > 0) {
      fmt::print("new keys of {}: {} rows take {} to {} in \"{}\"{}\n", printable(t.target), keys.count, keys.first,
                 keys.first + keys.count - 1, printable(keys.target_column),
                 keys.sequence.empty() ? "" : ", reserved in " + printable(keys.sequence));
    }
  }
}

// The estimate kept in the run folder for the copy of this selection that follows; whether it
// fits the window. Never fails the dry run.
void keep_for_the_copy(mover::RunSetup& run, const dryrun::Estimate& estimate, const PlanFlags& flags) {
  if (auto window = window_seconds(flags.window); window > 0) {
    bool fits = estimate.high <= window, might = estimate.seconds <= window;
    spdlog::log(fits ? spdlog::level::info : spdlog::level::warn,
                "the estimate ({:.0f} s, up to {:.0f} s) {} the {} window{}", estimate.seconds, estimate.high,
                fits ? "fits" : might ? "may not fit" : "does not fit", human_duration(window),
                fits ? "" : ": the copy would run over it");
  }
  try {
    std::vector<std::string> tables;
    for (const auto& t : run.plan.tables) tables.push_back(t.source + " -> " + t.target);
    auto source = mover::identify(*run.coordinator), target = mover::identify(*run.target);
    std::string databases = source.cluster + "/" + source.database + " -> " + target.cluster + "/" + target.database;
    auto file = report::keep_estimate(flags.run_dir, report::estimate_key(databases, tables),
                                      dryrun::to_json(estimate), flags.jobs,
                                      flags.job.empty() ? "" : std::filesystem::absolute(flags.job).string());
    spdlog::info("estimate kept in {}: a copy of this selection within 24 h compares its run with it", file.string());
  } catch (const std::exception& e) {
    spdlog::warn("the estimate could not be kept in {} ({}): the copy's report will have none to compare with",
                 flags.run_dir, e.what());
  }
}

}  // namespace

int run_plan(PlanFlags& flags) {
  require_connections(flags.connections);
  std::optional<Error> planning_failure;
  std::optional<mapping::Mapping> mapping;
  if (!flags.mapping.empty()) mapping = mapping::load_mapping(flags.mapping);
  plan::PlanOptions planning{flags.selection, flags.disable_triggers, flags.chunk_bytes, flags.indexes == "defer",
                                    mapping ? &*mapping : nullptr};
  planning.foreign_keys_deferred = flags.indexes == "defer";
  auto run = mover::open_run(flags.connections.source, flags.connections.target, planning, &planning_failure);
  target::Deferral deferral;  // what `copy` would defer, if the target tables are empty now
  if (!planning_failure && flags.indexes == "defer") {
    auto filled = target::target_tables_with_rows(*run.target, run.plan);
    try {
      deferral = mover::defer_for_load(run, planning, std::set<std::string>(filled.begin(), filled.end()));
    } catch (const Error& e) {  // a cycle of foreign keys kept in place
      planning_failure = e;
    }
  }
  if (planning_failure) {
    auto dry_run = dryrun::failed_plan(*planning_failure);
    if (flags.json) {
      std::cout << nlohmann::json{{"dry_run", dryrun::to_json(dry_run)}}.dump(2) << "\n";
    } else {
      print_findings(dry_run);
    }
    return exit_code(ErrorKind::NoGo);
  }
  dryrun::DryRunOptions options;
  options.source = flags.connections.source;
  options.target = flags.connections.target;
  options.max_warning_ratio = flags.dry.max_warning_ratio;
  options.jobs = flags.jobs;
  options.index_jobs = flags.index_jobs > 0 ? flags.index_jobs : flags.jobs;
  options.truncate = flags.on_existing == "truncate";
  options.append = flags.on_existing == "append";
  options.disable_triggers = flags.disable_triggers;
  options.keep_indexes = flags.indexes == "keep";
  options.verify = flags.verify == "full";
  options.analyze = !flags.no_analyze;
  options.catalog_schema = flags.catalog_schema;
  options.fast_checks = flags.dry.checks == "fast";
  options.exact_counts = flags.dry.exact_counts;
  options.check_timeout = flags.dry.check_timeout;
  options.estimate_seconds = flags.dry.estimate_seconds;
  options.mapping = mapping ? &*mapping : nullptr;
  auto dry_run = dryrun::dry_run(run, deferral, options);
  if (dry_run.estimate.measured) keep_for_the_copy(run, dry_run.estimate, flags);
  nlohmann::json follow_json = nlohmann::json::array();
  std::vector<source::FollowFinding> follow;
  if (flags.follow) follow = source::follow_checks(*run.coordinator, *run.target, run.plan);
  bool follow_go = !flags.follow || report_follow_findings(follow, flags.json ? &follow_json : nullptr);
  if (flags.json) {
    auto json = plan::to_json(run.plan);
    json["deferred"] = nlohmann::json::array();
    for (const auto& o : deferral.objects) json["deferred"].push_back(target::to_json(o));
    json["kept"] = nlohmann::json::array();
    for (const auto& k : deferral.kept) json["kept"].push_back({{"table", k.table}, {"what", k.what}, {"why", k.why}});
    json["dry_run"] = dryrun::to_json(dry_run);
    if (flags.follow) json["follow"] = follow_json;
    std::cout << json.dump(2) << "\n";
  } else {
    print_table(run.plan);
    print_deferral(deferral);
    print_findings(dry_run);
  }
  return dry_run.go && follow_go ? 0 : exit_code(ErrorKind::NoGo);
}


void add_dry_run_flags(CLI::App& cmd, DryRunFlags& flags, const std::string& prefix) {
  cmd.add_option("--max-warning-ratio", flags.max_warning_ratio,
                 prefix + "no-go when rows with warnings exceed this share of the rows to copy (default: 0.01, 1%)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--checks", flags.checks,
                 prefix + "full (default): count every row; fast: count on a TABLESAMPLE of about 100,000 rows per "
                          "table and label the counts as estimates")
      ->check(CLI::IsMember({"full", "fast"}));
  cmd.add_flag("--exact-counts", flags.exact_counts,
               prefix + "count every table's rows (in parallel, in the snapshot) instead of the catalog's estimates");
  cmd.add_option("--check-timeout", flags.check_timeout,
                 prefix + "seconds each data check may run; one that takes longer is reported as not run "
                          "(default: no limit)")
      ->check(CLI::Range(0.001, 1e6));
  cmd.add_option("--estimate-seconds", flags.estimate_seconds,
                 prefix + "seconds of sample loads into rolled-back probe tables on the target to measure the "
                          "duration estimate (default: 5; 0: no estimate)")
      ->check(CLI::Range(0.0, 600.0));
}

std::function<int()> add_plan_command(CLI::App& app) {
  auto flags = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand("plan", "the dry run: how a copy would split, order and defer, what it would meet "
                                         "(findings counted on the rows) and go or no-go (exit 5); writes nothing on either server "
                                         "(its estimate is kept in --run-dir for the copy that follows)");
  add_connection_flags(*cmd, flags->connections);
  add_selection_flags(*cmd, flags->selection);
  add_chunk_size_flag(*cmd, flags->chunk_bytes);
  cmd->add_flag("--disable-triggers", flags->disable_triggers, "plan as `copy --disable-triggers` would");
  cmd->add_option("--indexes", flags->indexes, "plan as `copy --indexes` would: defer (default) or keep")
      ->check(CLI::IsMember({"defer", "keep"}));
  add_jobs_flag(*cmd, flags->jobs, "as `copy -j` would (connection slots are checked for it)");
  cmd->add_option("--on-existing", flags->on_existing, "as `copy --on-existing` would: error, truncate or append")
      ->check(CLI::IsMember({"error", "truncate", "append"}));
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  cmd->add_option("--index-jobs", flags->index_jobs, "as `copy --index-jobs` would (default: -j)")
      ->check(CLI::Range(1, kMaxJobs));
  cmd->add_option("--verify", flags->verify, "as `copy --verify` would: full (default) or off (priced in the estimate)")
      ->check(CLI::IsMember({"full", "off"}));
  cmd->add_flag("--no-analyze", flags->no_analyze, "as `copy --no-analyze` would");
  add_dry_run_flags(*cmd, flags->dry, "");
  add_mapping_flag(*cmd, flags->mapping);
  cmd->add_flag("--follow", flags->follow,
                "also check what copy --follow needs: wal_level, free slots and WAL senders, replica identities, "
                "REPLICATION, the subscription privilege");
  cmd->add_flag("--json", flags->json, "print the whole plan, every chunk with its predicate, as JSON");
  cmd->add_option("--run-dir", flags->run_dir,
                  "folder of run folders: the measured estimate is kept in estimates/ there, for the copy of the same "
                  "selection that follows (default: pgblit-runs)");
  add_window_flag(*cmd, flags->window);
  add_job_flag(*cmd, flags->job);
  return [flags, cmd, &app] {
    std::shared_ptr<JobFile> job;
    if (!flags->job.empty()) {  // the job describes a copy: its settings are checked against copy's flags
      job = load_job_file(flags->job, *app.get_subcommand("copy"));
      apply_job_file(*job, *cmd);
    }
    try {
      return run_plan(*flags);
    } catch (const Error& e) {
      if (!job || job->inline_mapping.empty()) throw;
      throw Error(e.kind(), job->in_job_terms(e.what()), e.object(), e.hint(), e.sqlstate());
    }
  };
}

}  // namespace pgblit::cli
