// See report_command.hpp.
#include "cli/report_command.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>

#include "cli/common_flags.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "engine/run_catalog.hpp"
#include "pg/session.hpp"
#include "report/report.hpp"
#include "report/run_folder.hpp"

namespace pgblit::cli {

std::function<int()> add_report_command(CLI::App& app) {
  struct Flags {
    std::string input;
    std::string output;
    ConnectionFlags connections;
    std::string catalog_schema = kDefaultCatalogSchema;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("report", "render a run's HTML report again: from its report.json, or from the run "
                                           "catalog on the target (RUN_ID)");
  cmd->add_option("RUN_ID|REPORT_JSON", flags->input, "a run id (read from --target's run catalog) or a report.json")
      ->required();
  cmd->add_option("-o,--output", flags->output,
                  "the HTML file to write (default: report.html beside the JSON; report-RUN_ID.html from the catalog)");
  cmd->add_option("--target", flags->connections.target, "target server (default: $TARGET_DATABASE_URL), with RUN_ID");
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  return [flags] {
    if (!flags->input.empty() && flags->input.find_first_not_of("0123456789") == std::string::npos) {
      require_target(flags->connections);
      auto target = pg::open_session(flags->connections.target, "target");
      report::ReportBuilder builder;
      for (const auto& event : engine::RunCatalog(target, flags->catalog_schema).events_of(std::stoll(flags->input))) {
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
