// `pgblit report`: renders a run's HTML report again from its report.json.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_report_command(CLI::App& app);

}  // namespace pgblit::cli
