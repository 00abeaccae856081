// `pgblit copy`: flags -> runs::CopyOptions -> runs::CopyRun.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

// Adds the subcommand; the returned function runs it and returns the exit code.
std::function<int()> add_copy_command(CLI::App& app);

}  // namespace pgblit::cli
