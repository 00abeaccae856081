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
  std::string out = fmt::format("{:>6}  {:<19}  {:>4}  {:>10}  {:>12}  {:>10}  {}\n", "run", "started", "exit", "time",
                                "rows", "bytes", "phases");
  for (const auto& r : h["runs"]) {
    const auto& f = r["figures"];
    std::string phases;
    for (const char* p : kPhases) {
      if (f["phases"].contains(p)) phases += fmt::format("{} {:.1f}s  ", p, f["phases"][p].get<double>());
    }
    out += fmt::format("{:>6}  {:<19}  {:>4}  {:>10}  {:>12}  {:>10}  {}\n", r["id"].get<int64_t>(),
                       r.value("started_at", std::string()).substr(0, 19), r["exit_code"].is_number() ? r["exit_code"].dump() : "?",
                       fmt::format("{:.1f} s", f.value("seconds", 0.0)), f.value("rows", int64_t{0}),
                       human_bytes(f.value("bytes", 0.0)), phases);
  }
  if (!h["window"].is_null()) out += mover_sentence(h["window"]) + "\n";
  if (!h["since_first"].is_null() && h["runs"].size() > 2) out += "Since the first: " + mover_sentence(h["since_first"]) + "\n";
  return out;
}

std::string render_history_html(const nlohmann::json& h) {
  const auto& runs = h["runs"];
  double longest = 0.001;
  for (const auto& r : runs) longest = std::max(longest, r["figures"].value("seconds", 0.0));
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
  }
  svg += fmt::format(R"(<line x1="{0}" y1="10" x2="{0}" y2="{1}" stroke="#555"/><text x="4" y="16">{2:.1f} s</text><text x="4" y="{1}">0 s</text>)",
                     left - 4, plot + 10, longest);
  std::string legend;
  for (const char* p : kPhases) {
    legend += fmt::format(R"(<span class="legend"><i style="background:{}"></i>{}</span> )", kPhaseColours.at(p), p);
  }
  std::string rows;
  for (const auto& r : runs) {
    const auto& f = r["figures"];
    std::string phases;
    for (const char* p : kPhases) {
      phases += fmt::format("<td>{}</td>", f["phases"].contains(p) ? fmt::format("{:.1f}", f["phases"][p].get<double>()) : "");
    }
    rows += fmt::format(R"(<tr class="run-row"><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>)",
                        r["id"].get<int64_t>(), html_escape(r.value("started_at", std::string()).substr(0, 19)),
                        r["exit_code"].is_number() ? r["exit_code"].dump() : "?", f.value("seconds", 0.0), phases,
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
#window {{ border-left: 6px solid #b9770e; padding: .4em 1em; background: #f7f9fb; }}
</style></head><body>
<h1>Rehearsals: {0} runs</h1>
<p id="window">{1}</p>
<h2>The window, run by run</h2>
<div>{2}</div>
<svg id="trend" width="{3}" height="{4}" xmlns="http://www.w3.org/2000/svg">{5}</svg>
<h2>Side by side</h2>
<table id="runs"><tr><th>run</th><th>started</th><th>exit</th><th>total (s)</th>{6}<th>rows</th><th>bytes</th><th>job digest</th></tr>{7}</table>
</body></html>
)",
                     runs.size(), html_escape(mover_sentence(h["window"])), legend,
                     left + runs.size() * (bar + gap) + 20, plot + 40, svg, header, rows);
}

}  // namespace pgblit::report
