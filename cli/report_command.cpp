// See report_command.hpp.
#include "cli/report_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "cli/common_flags.hpp"
#include "core/error.hpp"
#include "report/history.hpp"
#include "report/report.hpp"
#include "report/run_folder.hpp"
#include "runs/report_run.hpp"

namespace pgblit::cli {

std::function<int()> add_report_command(CLI::App& app) {
  auto options = std::make_shared<runs::ReportOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("report", "render a run's HTML report again: from its report.json, or from the run "
                                           "catalog on the target (RUN_ID)");
  cmd->add_option("RUN_ID|REPORT_JSON", options->input, "a run id (read from --target's run catalog) or a report.json");
  cmd->add_option("-o,--output", options->output,
                  "the HTML file to write (default: report.html beside the JSON; report-RUN_ID.html from the catalog)");
  cmd->add_option("--target", options->target, "target server (default: $TARGET_DATABASE_URL), with RUN_ID");
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  cmd->add_flag("--history", options->history,
                "the runs the target's catalog keeps side by side (exit code, total and per-phase time, rows, bytes), "
                "a trend chart, and which table's growth moved the window; an HTML page (-o, default "
                "report-history.html), its text on stdout");
  cmd->add_option("--job", options->job, "with --history: only the runs of this job file (docs/job.md)");
  cmd->add_flag("--json", *json, "with --history: print the history as JSON instead");
  return [options, json] {
    if (options->history != options->input.empty()) {
      throw usage_error(options->history ? "--history shows every run: give no RUN_ID or REPORT_JSON with it"
                                         : "give a RUN_ID or a report.json, or --history",
                        "report", "pgblit report RUN_ID --target URI, pgblit report REPORT_JSON, or pgblit report --history --target URI");
    }
    if (!options->job.empty() && !options->history) throw usage_error("--job applies to --history only", "--job", "add --history");
    if (options->history) {
      require_target(options->target);
      auto history = runs::report_history(*options);
      if (*json) {
        fmt::print("{}\n", history.dump(2));
        return 0;
      }
      std::string output = options->output.empty() ? "report-history.html" : options->output;
      report::write_file(output, report::render_history_html(history));
      fmt::print("{}", report::render_history_text(history));
      spdlog::info("wrote {}", output);
      return 0;
    }
    if (options->input.find_first_not_of("0123456789") == std::string::npos) {
      require_target(options->target);
      auto report = runs::report_of_run(*options, std::stoll(options->input));
      std::string output = options->output.empty() ? "report-" + options->input + ".html" : options->output;
      report::write_file(output, report::render_html(report));
      spdlog::info("wrote {} from the run catalog (chunks' lanes and times as recorded there)", output);
      return 0;
    }
    auto report = runs::report_from_file(options->input);
    std::string output = options->output.empty()
                             ? (std::filesystem::path(options->input).parent_path() / "report.html").string()
                             : options->output;
    report::write_file(output, report::render_html(report));
    spdlog::info("wrote {}", output);
    return 0;
  };
}

}  // namespace pgblit::cli
