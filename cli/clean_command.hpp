// `pgblit clean`: drops a run's rows from the run catalog, or the whole catalog schema.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_clean_command(CLI::App& app);

}  // namespace pgblit::cli
