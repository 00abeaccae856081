// See plan_command.hpp.
#include "cli/plan_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/common_flags.hpp"
#include "cli/follow_commands.hpp"
#include "cli/job_file.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"

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

}  // namespace

int run_plan(PlanCommand& command) {
  auto& copy = command.options.copy;
  require_connections(copy.source, copy.target);
  auto result = runs::plan_run(command.options);
  if (!result.planned) {
    if (command.json) {
      std::cout << nlohmann::json{{"dry_run", dryrun::to_json(result.dry_run)}}.dump(2) << "\n";
    } else {
      print_findings(result.dry_run);
    }
    return exit_code(ErrorKind::NoGo);
  }
  nlohmann::json follow_json = nlohmann::json::array();
  bool follow_go = !copy.follow || report_follow_findings(result.follow, command.json ? &follow_json : nullptr);
  if (command.json) {
    auto json = plan::to_json(result.plan);
    json["deferred"] = nlohmann::json::array();
    for (const auto& o : result.deferral.objects) json["deferred"].push_back(target::to_json(o));
    json["kept"] = nlohmann::json::array();
    for (const auto& k : result.deferral.kept) {
      json["kept"].push_back({{"table", k.table}, {"what", k.what}, {"why", k.why}});
    }
    json["dry_run"] = dryrun::to_json(result.dry_run);
    if (copy.follow) json["follow"] = follow_json;
    std::cout << json.dump(2) << "\n";
  } else {
    print_table(result.plan);
    print_deferral(result.deferral);
    print_findings(result.dry_run);
  }
  return result.dry_run.go && follow_go ? 0 : exit_code(ErrorKind::NoGo);
}

void add_dry_run_flags(CLI::App& cmd, dryrun::DryRunOptions& options, const std::string& prefix) {
  cmd.add_option("--max-warning-ratio", options.max_warning_ratio,
                 prefix + "no-go when rows with warnings exceed this share of the rows to copy (default: 0.01, 1%)")
      ->check(CLI::Range(0.0, 1.0));
  add_choice(cmd, "--checks", options.fast_checks, {{"full", false}, {"fast", true}},
             prefix + "full (default): count every row; fast: count on a TABLESAMPLE of about 100,000 rows per "
                      "table and label the counts as estimates");
  cmd.add_flag("--exact-counts", options.exact_counts,
               prefix + "count every table's rows (in parallel, in the snapshot) instead of the catalog's estimates");
  cmd.add_option("--check-timeout", options.check_timeout,
                 prefix + "seconds each data check may run; one that takes longer is reported as not run "
                          "(default: no limit)")
      ->check(CLI::Range(0.001, 1e6));
  cmd.add_option("--estimate-seconds", options.estimate_seconds,
                 prefix + "seconds of sample loads into rolled-back probe tables on the target to measure the "
                          "duration estimate (default: 5; 0: no estimate)")
      ->check(CLI::Range(0.0, 600.0));
}

std::function<int()> add_plan_command(CLI::App& app) {
  auto plan = std::make_shared<PlanCommand>();
  auto& copy = plan->options.copy;
  auto* cmd = app.add_subcommand("plan", "the dry run: how a copy would split, order and defer, what it would meet "
                                         "(findings counted on the rows) and go or no-go (exit 5); writes nothing on either server "
                                         "(its estimate is kept in --run-dir for the copy that follows)");
  add_connection_flags(*cmd, copy.source, copy.target);
  add_selection_flags(*cmd, copy.selection);
  add_chunk_size_flag(*cmd, copy.chunk_bytes);
  cmd->add_flag("--disable-triggers", copy.disable_triggers, "plan as `copy --disable-triggers` would");
  add_indexes_flag(*cmd, copy.defer_indexes, "plan as `copy --indexes` would: defer (default) or keep");
  add_jobs_flag(*cmd, copy.jobs, "as `copy -j` would (connection slots are checked for it)");
  add_on_existing_flag(*cmd, copy.on_existing, "as `copy --on-existing` would: error, truncate or append");
  add_catalog_schema_flag(*cmd, copy.catalog_schema);
  add_index_jobs_flag(*cmd, copy.index_jobs, "as `copy --index-jobs` would (default: -j)");
  add_verify_flag(*cmd, copy.verify, "as `copy --verify` would: full (default) or off (priced in the estimate)");
  add_no_analyze_flag(*cmd, copy.analyze, "as `copy --no-analyze` would");
  add_dry_run_flags(*cmd, plan->options.dry_run, "");
  add_mapping_flag(*cmd, copy.mapping_file);
  cmd->add_flag("--follow", copy.follow,
                "also check what copy --follow needs: wal_level, free slots and WAL senders, replica identities, "
                "REPLICATION, the subscription privilege");
  cmd->add_flag("--json", plan->json, "print the whole plan, every chunk with its predicate, as JSON");
  cmd->add_option("--run-dir", plan->options.run_dir,
                  "folder of run folders: the measured estimate is kept in estimates/ there, for the copy of the same "
                  "selection that follows (default: pgblit-runs)");
  add_window_flag(*cmd, copy.window_seconds);
  add_job_flag(*cmd, plan->options.job_file);
  return [plan, cmd, &app] {
    std::shared_ptr<JobFile> job;
    if (!plan->options.job_file.empty()) {  // the job describes a copy: its settings are checked against copy's flags
      job = load_job_file(plan->options.job_file, *app.get_subcommand("copy"));
      apply_job_file(*job, *cmd);
    }
    try {
      return run_plan(*plan);
    } catch (const Error& e) {
      if (!job || job->inline_mapping.empty()) throw;
      throw Error(e.kind(), job->in_job_terms(e.what()), e.object(), e.hint(), e.sqlstate());
    }
  };
}

}  // namespace pgblit::cli
