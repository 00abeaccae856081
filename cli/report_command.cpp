// See report_command.hpp.
#include "cli/report_command.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>

#include "cli/common_flags.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "mover/run_catalog.hpp"
#include "runs/status_run.hpp"
#include "pg/session.hpp"
#include "report/history.hpp"
#include "report/report.hpp"
#include "report/run_record.hpp"
#include "report/run_folder.hpp"

namespace pgblit::cli {

std::function<int()> add_report_command(CLI::App& app) {
  struct Flags {
    std::string input;
    std::string output;
    ConnectionFlags connections;
    std::string catalog_schema = kDefaultCatalogSchema;
    bool history = false;
    std::string job;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("report", "render a run's HTML report again: from its report.json, or from the run "
                                           "catalog on the target (RUN_ID)");
  cmd->add_option("RUN_ID|REPORT_JSON", flags->input, "a run id (read from --target's run catalog) or a report.json");
  cmd->add_option("-o,--output", flags->output,
                  "the HTML file to write (default: report.html beside the JSON; report-RUN_ID.html from the catalog)");
  cmd->add_option("--target", flags->connections.target, "target server (default: $TARGET_DATABASE_URL), with RUN_ID");
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  cmd->add_flag("--history", flags->history,
                "the runs the target's catalog keeps side by side (exit code, total and per-phase time, rows, bytes), "
                "a trend chart, and which table's growth moved the window; an HTML page (-o, default "
                "report-history.html), its text on stdout");
  cmd->add_option("--job", flags->job, "with --history: only the runs of this job file (docs/job.md)");
  cmd->add_flag("--json", flags->json, "with --history: print the history as JSON instead");
  return [flags] {
    if (flags->history != flags->input.empty()) {
      throw usage_error(flags->history ? "--history shows every run: give no RUN_ID or REPORT_JSON with it"
                                       : "give a RUN_ID or a report.json, or --history",
                        "report", "pgblit report RUN_ID --target URI, pgblit report REPORT_JSON, or pgblit report --history --target URI");
    }
    if (!flags->job.empty() && !flags->history) throw usage_error("--job applies to --history only", "--job", "add --history");
    if (flags->history) {
      require_target(flags->connections);
      std::string job = flags->job.empty() ? "" : std::filesystem::absolute(flags->job).lexically_normal().string();
      auto history = report::history(report::recorded_runs(flags->connections.target, flags->catalog_schema, job));
      if (history["runs"].empty()) {
        throw usage_error(job.empty() ? "the run catalog keeps no finished run's figures yet"
                                      : "no run of the job " + job + " is in the run catalog",
                          flags->catalog_schema, "runs record their figures when they end (pgblit 0.1 and later)");
      }
      if (flags->json) {
        fmt::print("{}\n", history.dump(2));
        return 0;
      }
      std::string output = flags->output.empty() ? "report-history.html" : flags->output;
      report::write_file(output, report::render_history_html(history));
      fmt::print("{}", report::render_history_text(history));
      spdlog::info("wrote {}", output);
      return 0;
    }
    if (!flags->input.empty() && flags->input.find_first_not_of("0123456789") == std::string::npos) {
      require_target(flags->connections);
      auto target = pg::open_session(flags->connections.target, "target");
      mover::RunCatalog catalog(target, flags->catalog_schema);
      report::ReportBuilder builder;
      for (const auto& event : runs::run_events(catalog, std::stoll(flags->input))) {
        builder.on_event(event);
      }
      std::string output = flags->output.empty() ? "report-" + flags->input + ".html" : flags->output;
      report::write_file(output, report::render_html(builder.report()));
      spdlog::info("wrote {} from the run catalog (chunks' lanes and times as recorded there)", output);
      return 0;
    }
    std::ifstream in(flags->input);
    if (!in) throw usage_error("cannot read " + flags->input, flags->input, "give the path of a run folder's report.json");
    nlohmann::json report;
    try {
      report = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw usage_error(std::string("not a report.json: ") + e.what(), flags->input, "give a run folder's report.json");
    }
    std::string output = flags->output.empty()
                             ? (std::filesystem::path(flags->input).parent_path() / "report.html").string()
                             : flags->output;
    report::write_file(output, report::render_html(report));
    spdlog::info("wrote {}", output);
    return 0;
  };
}

}  // namespace pgblit::cli
