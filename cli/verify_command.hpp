// `pgblit verify`: flags -> runs::VerifyOptions -> runs::run_verify, and the report.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_verify_command(CLI::App& app);

}  // namespace pgblit::cli
