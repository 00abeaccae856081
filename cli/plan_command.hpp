// `pgblit plan`: the partitioning part of the dry run. Connects to both servers, builds the
// plan the copy would execute (the same code path), and prints it; writes nothing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_plan_command(CLI::App& app);

}  // namespace pgblit::cli
