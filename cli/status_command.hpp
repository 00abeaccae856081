// `pgblit status`: progress of a running or finished run, read from the target's run catalog,
// from any terminal or host.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_status_command(CLI::App& app);

}  // namespace pgblit::cli
