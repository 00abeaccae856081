// See history.hpp.
#include "report/history.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/printable.hpp"
#include "core/units.hpp"
#include "report/html_escape.hpp"

namespace pgblit::report {
namespace {

const char* kPhases[] = {"plan", "load", "rebuild", "verify", "sequences", "analyze"};
const std::map<std::string, const char*> kPhaseColours = {{"load", "#5dade2"},      {"rebuild", "#eb984e"},
                                                          {"verify", "#58d68d"},    {"sequences", "#af7ac5"},
                                                          {"analyze", "#f4d03f"},   {"plan", "#aab7b8"}};

double seconds_of(const nlohmann::json& figures, const std::string& table) {
  return figures["tables"].contains(table) ? figures["tables"][table].value("seconds", 0.0) : 0.0;
}
int64_t rows_of(const nlohmann::json& figures, const std::string& table) {
  return figures["tables"].contains(table) ? figures["tables"][table].value("rows", int64_t{0}) : 0;
}

// The table whose time grew most from run `a` to run `b`.
nlohmann::json mover(const nlohmann::json& a, const nlohmann::json& b) {
  const auto& fa = a["figures"];
  const auto& fb = b["figures"];
  std::string best;
  double grew = -1e300;
  for (const auto& [table, ignored] : fb["tables"].items()) {
    double d = seconds_of(fb, table) - seconds_of(fa, table);
    if (d > grew) grew = d, best = table;
  }
  if (best.empty()) return nullptr;
  return {{"table", best},
          {"from_run", a["id"]},
          {"to_run", b["id"]},
          {"window_seconds_delta", fb.value("seconds", 0.0) - fa.value("seconds", 0.0)},
          {"table_seconds_delta", grew},
          {"rows_before", rows_of(fa, best)},
          {"rows_after", rows_of(fb, best)}};
}

std::string mover_sentence(const nlohmann::json& m) {
  if (m.is_null()) return "";
  double before = m["rows_before"].get<double>(), after = m["rows_after"].get<double>();
  return fmt::format("From run {} to run {} the window changed by {:+.1f} s; the table that moved it most is {} "
                     "({:+.1f} s, rows {} → {}{}).",
                     m["from_run"].get<int64_t>(), m["to_run"].get<int64_t>(), m["window_seconds_delta"].get<double>(),
                     printable(m["table"].get<std::string>()), m["table_seconds_delta"].get<double>(),
                     m["rows_before"].get<int64_t>(), m["rows_after"].get<int64_t>(),
                     before > 0 ? fmt::format(", {:+.0f}%", (after - before) / before * 100) : "");
}

// "+12%" for a run the dry run estimated, "" for one it did not.
std::string error_text(const nlohmann::json& figures) {
  return figures.contains("estimate_error") ? fmt::format("{:+.0f}%", figures["estimate_error"].get<double>() * 100) : "";
}
std::string estimate_text(const nlohmann::json& figures) {
  return figures.contains("estimate") ? fmt::format("{:.1f}", figures["estimate"]["seconds"].get<double>()) : "";
}
// "12.0 of 7200" / "OVER 12.0 of 10": the window's use, for runs given one.
std::string window_text(const nlohmann::json& figures) {
  if (!figures.contains("window_seconds")) return "";
  double used = figures.value("seconds", 0.0), window = figures["window_seconds"];
  return fmt::format("{}{:.0f}%", used > window ? "OVER " : "", used / window * 100);
}

}  // namespace

nlohmann::json history(const std::vector<nlohmann::json>& runs) {
  nlohmann::json out = {{"runs", runs}, {"window", nullptr}, {"since_first", nullptr}};
  if (runs.size() >= 2) {
    out["window"] = mover(runs[runs.size() - 2], runs.back());
    out["since_first"] = mover(runs.front(), runs.back());
  }
  return out;
}

std::string render_history_text(const nlohmann::json& h) {
  std::string out = fmt::format("{:>6}  {:<19}  {:>4}  {:>10}  {:>10}  {:>8}  {:>10}  {:>12}  {:>10}  {}\n", "run",
                                "started", "exit", "time", "estimate", "error", "window", "rows", "bytes", "phases");
  for (const auto& r : h["runs"]) {
    const auto& f = r["figures"];
    std::string phases;
    for (const char* p : kPhases) {
      if (f["phases"].contains(p)) phases += fmt::format("{} {:.1f}s  ", p, f["phases"][p].get<double>());
    }
    out += fmt::format("{:>6}  {:<19}  {:>4}  {:>10}  {:>10}  {:>8}  {:>10}  {:>12}  {:>10}  {}\n", r["id"].get<int64_t>(),
                       r.value("started_at", std::string()).substr(0, 19), r["exit_code"].is_number() ? r["exit_code"].dump() : "?",
                       fmt::format("{:.1f} s", f.value("seconds", 0.0)),
                       f.contains("estimate") ? estimate_text(f) + " s" : "-", f.contains("estimate_error") ? error_text(f) : "-",
                       f.contains("window_seconds") ? window_text(f) : "-", f.value("rows", int64_t{0}),
                       human_bytes(f.value("bytes", 0.0)), phases);
  }
  if (!h["window"].is_null()) out += mover_sentence(h["window"]) + "\n";
  if (!h["since_first"].is_null() && h["runs"].size() > 2) out += "Since the first: " + mover_sentence(h["since_first"]) + "\n";
  return out;
}

std::string render_history_html(const nlohmann::json& h) {
  const auto& runs = h["runs"];
  double longest = 0.001;
  for (const auto& r : runs) {
    const auto& f = r["figures"];
    longest = std::max(longest, f.value("seconds", 0.0));
    if (f.contains("estimate")) longest = std::max(longest, f["estimate"]["seconds"].get<double>());
    if (f.contains("window_seconds") && f["window_seconds"].get<double>() < 3 * longest) {  // a far window flattens the bars
      longest = std::max(longest, f["window_seconds"].get<double>());
    }
  }
  const int left = 60, bar = 36, gap = 14, plot = 220;
  std::string svg;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& f = runs[i]["figures"];
    double x = left + i * (bar + gap), y = plot + 10;
    for (const char* p : kPhases) {
      if (!f["phases"].contains(p)) continue;
      double hgt = f["phases"][p].get<double>() / longest * plot;
      y -= hgt;
      svg += fmt::format(R"(<rect class="phase" x="{:.0f}" y="{:.1f}" width="{}" height="{:.1f}" fill="{}"><title>run {} {}: {:.1f} s</title></rect>)",
                         x, y, bar, hgt, kPhaseColours.at(p), runs[i]["id"].get<int64_t>(), p,
                         f["phases"][p].get<double>());
    }
    svg += fmt::format(R"(<text class="run-label" x="{:.0f}" y="{}" text-anchor="middle">run {}</text>)", x + bar / 2.0,
                       plot + 26, runs[i]["id"].get<int64_t>());
    if (f.contains("estimate")) {  // the dry run's estimate: a dark tick across the bar
      double e = f["estimate"]["seconds"].get<double>();
      svg += fmt::format(R"(<line class="estimate-mark" x1="{:.0f}" y1="{:.1f}" x2="{:.0f}" y2="{:.1f}" stroke="#1b2631" stroke-width="3"><title>run {} estimated {:.1f} s ({})</title></line>)",
                         x - 4, plot + 10 - std::min(e, longest) / longest * plot, x + bar + 4,
                         plot + 10 - std::min(e, longest) / longest * plot, runs[i]["id"].get<int64_t>(), e, error_text(f));
    }
    if (f.contains("window_seconds") && f["window_seconds"].get<double>() <= longest) {  // the window: a red dash
      double y = plot + 10 - f["window_seconds"].get<double>() / longest * plot;
      svg += fmt::format(R"(<line class="window-mark" x1="{:.0f}" y1="{:.1f}" x2="{:.0f}" y2="{:.1f}" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 2"><title>run {}'s window: {:.1f} s</title></line>)",
                         x - gap / 2.0, y, x + bar + gap / 2.0, y, runs[i]["id"].get<int64_t>(), f["window_seconds"].get<double>());
    }
  }
  svg += fmt::format(R"(<line x1="{0}" y1="10" x2="{0}" y2="{1}" stroke="#555"/><text x="4" y="16">{2:.1f} s</text><text x="4" y="{1}">0 s</text>)",
                     left - 4, plot + 10, longest);
  std::string legend;
  for (const char* p : kPhases) {
    legend += fmt::format(R"(<span class="legend"><i style="background:{}"></i>{}</span> )", kPhaseColours.at(p), p);
  }
  legend += R"(<span class="legend"><i style="background:#1b2631;height:3px"></i>the dry run's estimate</span> )"
            R"(<span class="legend"><i style="background:#c0392b;height:2px"></i>the window</span>)";
  std::string rows;
  for (const auto& r : runs) {
    const auto& f = r["figures"];
    std::string phases;
    for (const char* p : kPhases) {
      phases += fmt::format("<td>{}</td>", f["phases"].contains(p) ? fmt::format("{:.1f}", f["phases"][p].get<double>()) : "");
    }
    std::string window = window_text(f);
    rows += fmt::format(R"(<tr class="run-row"><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td class="estimate">{}</td><td class="estimate-error">{}</td><td class="window{}">{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>)",
                        r["id"].get<int64_t>(), html_escape(r.value("started_at", std::string()).substr(0, 19)),
                        r["exit_code"].is_number() ? r["exit_code"].dump() : "?", f.value("seconds", 0.0),
                        estimate_text(f), error_text(f), window.starts_with("OVER") ? " over-window" : "", window, phases,
                        f.value("rows", int64_t{0}), human_bytes(f.value("bytes", 0.0)),
                        r["job"].is_object() ? html_escape(r["job"].value("digest", "")) : "");
  }
  std::string header;
  for (const char* p : kPhases) header += fmt::format("<th>{} (s)</th>", p);
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pgblit rehearsals</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
svg {{ background: #fbfcfd; border: 1px solid #ddd; font-size: 11px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
#window, #since-first {{ border-left: 6px solid #b9770e; padding: .4em 1em; background: #f7f9fb; }}
.over-window {{ color: #c0392b; font-weight: bold; }}
</style></head><body>
<h1>Rehearsals: {0} runs</h1>
<p id="window">{1}</p>
<p id="since-first">{8}</p>
<h2>The window, run by run</h2>
<div>{2}</div>
<svg id="trend" width="{3}" height="{4}" xmlns="http://www.w3.org/2000/svg">{5}</svg>
<h2>Side by side</h2>
<table id="runs"><tr><th>run</th><th>started</th><th>exit</th><th>total (s)</th><th>estimate (s)</th><th>estimate error</th><th>window used</th>{6}<th>rows</th><th>bytes</th><th>job digest</th></tr>{7}</table>
</body></html>
)",
                     runs.size(), html_escape(mover_sentence(h["window"])), legend,
                     left + runs.size() * (bar + gap) + 20, plot + 40, svg, header, rows,
                     runs.size() > 2 ? html_escape("Since the first: " + mover_sentence(h["since_first"])) : "");
}

}  // namespace pgblit::report
