// See report_command.hpp.
#include "cli/report_command.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>

#include "core/error.hpp"
#include "report/report.hpp"
#include "report/run_folder.hpp"

namespace pgblit::cli {

std::function<int()> add_report_command(CLI::App& app) {
  struct Flags {
    std::string input;
    std::string output;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("report", "render a run's HTML report again from its report.json");
  cmd->add_option("REPORT_JSON", flags->input, "the run folder's report.json")->required();
  cmd->add_option("-o,--output", flags->output, "the HTML file to write (default: report.html beside the JSON)");
  return [flags] {
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
