// `pgblit report --history`: the rehearsals of one job side by side, from the figures each run
// keeps in the run catalog (report/run_record.hpp): per run its exit code, total and per-phase
// duration, rows and bytes; a trend chart of the window (each run's bar split by phase); and
// which table's growth moved the window between the last two runs (and since the first).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgblit::report {

// `runs`: one object per run, oldest first: id, started_at, exit_code, job ({file, digest} or
// null), figures (run_figures). Returns {runs, window} where `window` names the table whose time
// grew most between the last two runs, with how much its rows and time grew (null with fewer
// than two runs).
nlohmann::json history(const std::vector<nlohmann::json>& runs);

// The history as one self-contained HTML page, and as plain text for a terminal.
std::string render_history_html(const nlohmann::json& history);
std::string render_history_text(const nlohmann::json& history);

}  // namespace pgblit::report
