// `pgblit unfence`: after a crash of `copy --fence`, lifts the fence the target's run catalog
// records as still in place on the source.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_unfence_command(CLI::App& app);

}  // namespace pgblit::cli
