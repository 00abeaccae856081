// `pgblit cutover RUN_ID` and `pgblit unfollow RUN_ID|--all` for runs of `copy --follow`, and
// the dry run's and status's views of following (docs/follow.md).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <vector>

#include "source/follow_checks.hpp"

namespace pgblit::cli {

std::function<int()> add_cutover_command(CLI::App& app);
std::function<int()> add_unfollow_command(CLI::App& app);

// plan --follow: prints the findings (or returns them as JSON); false when one is an error.
bool report_follow_findings(const std::vector<source::FollowFinding>& findings, nlohmann::json* json);
// pgblit status: the lines of a following run.
void print_follow_status(const nlohmann::json& follow);

}  // namespace pgblit::cli
