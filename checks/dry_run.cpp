// See dry_run.hpp.
#include "checks/dry_run.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "target/preflight.hpp"
#include "target/target_prep.hpp"

namespace pgblit::checks {
namespace {

using Clock = std::chrono::steady_clock;

// What the target demands of each copied table: NOT NULL columns, length limits, unique keys,
// and foreign keys to other copied tables.
struct Demands {
  std::vector<std::pair<std::string, std::string>> not_null;        // (target table, column)
  std::vector<std::tuple<std::string, std::string, int>> lengths;   // (target table, column, max characters)
  std::vector<std::pair<std::string, std::vector<std::string>>> unique;  // (target table, columns) with name
  std::vector<std::string> unique_names;
  struct ForeignKey {
    std::string name, table, referenced;
    std::vector<std::string> columns, referenced_columns;
  };
  std::vector<ForeignKey> foreign_keys;
};

Demands read_demands(pg::Connection& target, const std::vector<std::string>& tables) {
  Demands d;
  auto cols = target.exec_params(R"(
SELECT t, a.attname, a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '',
       CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4 THEN a.atttypmod - 4 END
FROM unnest($1::text[]) t JOIN pg_attribute a ON a.attrelid = t::regclass AND a.attnum > 0 AND NOT a.attisdropped
WHERE a.attnotnull OR a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype))",
                                 {pg::text_array_literal(tables)}, "columns");
  for (int i = 0; i < cols.rows(); ++i) {
    if (cols.boolean(i, 2)) d.not_null.emplace_back(cols.text(i, 0), cols.text(i, 1));
    if (!cols.is_null(i, 3)) d.lengths.emplace_back(cols.text(i, 0), cols.text(i, 1), std::stoi(cols.text(i, 3)));
  }
  auto keys = target.exec_params(R"(
SELECT tab.name, c.conname, c.contype::text,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       COALESCE(ref.name, ''),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)::text[]
FROM unnest($1::text[]) AS tab(name) JOIN pg_constraint c ON c.conrelid = tab.name::regclass AND c.contype IN ('p', 'u', 'f')
LEFT JOIN unnest($1::text[]) AS ref(name) ON c.confrelid = ref.name::regclass)",
                                 {pg::text_array_literal(tables)}, "constraints");
  for (int i = 0; i < keys.rows(); ++i) {
    if (keys.text(i, 2) == "f") {
      if (!keys.text(i, 4).empty()) {
        d.foreign_keys.push_back({keys.text(i, 1), keys.text(i, 0), keys.text(i, 4), keys.text_array(i, 3),
                                  keys.text_array(i, 5)});
      }
    } else {
      d.unique.emplace_back(keys.text(i, 0), keys.text_array(i, 3));
      d.unique_names.push_back(keys.text(i, 1));
    }
  }
  return d;
}

std::string joined(const std::vector<std::string>& columns, const std::string& alias) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back((alias.empty() ? "" : alias + ".") + pg::quote_ident(c));
  return fmt::format("{}", fmt::join(out, ", "));
}

// One count on the source: (rows affected, one example), timed.
// A data check: one query on the source returning (rows affected, one example).
struct Check {
  std::string sql;
  Finding finding;
};

// Runs the checks on up to `jobs` sessions of their own, all inside the run's snapshot. A check
// that fails (a privilege, a statement timeout) becomes an error finding naming it; the others
// still run.
std::vector<Finding> run_checks(std::vector<Check> checks, const std::string& source_conninfo,
                                const std::string& snapshot_id, int jobs) {
  std::vector<Finding> out(checks.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::optional<pg::Connection> session;
    for (size_t i = next++; i < checks.size(); i = next++) {
      auto& check = checks[i];
      auto started = Clock::now();
      try {
        if (!session) {
          session.emplace(pg::open_session(source_conninfo, "source"));
          pg::join_snapshot(*session, snapshot_id);
        }
        auto r = session->exec(check.sql, check.finding.object);
        check.finding.rows = r.int64(0, 0);
        check.finding.example = r.is_null(0, 1) ? "" : r.text(0, 1);
      } catch (const Error& e) {
        check.finding.severity = Severity::Error;
        check.finding.message = fmt::format("the {} check could not run: {}", check.finding.check, e.what());
        check.finding.fix = "give the source role what the check needs, or run the dry run as another role";
        session.reset();  // its snapshot transaction died with the failure: a fresh session joins again
      }
      check.finding.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      out[i] = std::move(check.finding);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, jobs); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace

const char* to_string(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Info: return "info";
  }
  return "info";
}

DryRun dry_run(engine::RunSetup& run, const DryRunOptions& options) {
  DryRun result;
  const auto& plan = run.plan;
  for (const auto& t : plan.tables) result.rows += std::max<int64_t>(t.estimated_rows, 0);
  for (const auto& p : target::target_problems(*run.target, *run.coordinator, plan,
                                               {options.jobs, options.index_jobs, options.truncate, options.verify,
                                                options.catalog_schema, run.same_cluster})) {
    result.findings.push_back({Severity::Error, "operations", p.object, p.problem, -1, "", p.fix});
  }
  for (const auto& t : target::target_tables_with_rows(*run.target, plan)) {
    result.findings.push_back(
        {options.truncate ? Severity::Info : Severity::Error, "target not empty", t,
         options.truncate ? "holds rows: --on-existing truncate empties it first" : "holds rows already", -1, "",
         options.truncate ? "" : "empty it, or copy with --on-existing truncate or append"});
  }
  // The data checks, on every source table loading into a target table (partitions each),
  // run at once on -j sessions in the run's snapshot.
  std::vector<Check> checks;
  std::map<std::string, std::vector<const partitioner::TableCopy*>> sources_of;
  for (const auto& t : plan.tables) sources_of[t.target].push_back(&t);
  auto demands = read_demands(*run.target, plan.target_tables());
  auto example_key = [](const partitioner::TableCopy* t) {
    return t->key.empty() ? std::string("NULL") : fmt::format("min(ROW({})::text)", joined(t->key, ""));
  };
  for (const auto& [table, column] : demands.not_null) {
    for (const auto* t : sources_of.at(table)) {
      checks.push_back(Check{fmt::format("SELECT count(*), {} FROM ONLY {} WHERE {} IS NULL", example_key(t), t->source,
                      pg::quote_ident(column)),
          {Severity::Warning, "not null", table + "." + pg::quote_ident(column),
           "rows of " + t->source + " with NULL where the target's column is NOT NULL", -1, "",
           "fill the values, or let --max-rejects set the rows aside"}});
    }
  }
  for (const auto& [table, column, limit] : demands.lengths) {
    for (const auto* t : sources_of.at(table)) {
      checks.push_back(Check{fmt::format("SELECT count(*), {} FROM ONLY {} WHERE char_length({}::text) > {}", example_key(t), t->source,
                      pg::quote_ident(column), limit),
          {Severity::Warning, "length", table + "." + pg::quote_ident(column),
           fmt::format("rows of {} with values longer than the target's {} characters", t->source, limit), -1, "",
           "widen the target's column, or shorten the values"}});
    }
  }
  for (size_t i = 0; i < demands.unique.size(); ++i) {
    const auto& [table, columns] = demands.unique[i];
    for (const auto* t : sources_of.at(table)) {
      checks.push_back(Check{fmt::format("SELECT COALESCE(sum(n), 0), min(k) FROM (SELECT count(*) AS n, min(ROW({0})::text) AS k "
                      "FROM ONLY {1} GROUP BY {0} HAVING count(*) > 1) d",
                      joined(columns, ""), t->source),
          {Severity::Warning, "unique", table + " " + pg::quote_ident(demands.unique_names[i]),
           "rows of " + t->source + " sharing a key the target's unique constraint allows once", -1, "",
           "remove the duplicates on the source, or drop the constraint on the target"}});
    }
  }
  for (const auto& fk : demands.foreign_keys) {
    std::vector<std::string> match, not_null, parents;
    for (size_t i = 0; i < fk.columns.size(); ++i) {
      match.push_back(fmt::format("p.{} = c.{}", pg::quote_ident(fk.referenced_columns[i]), pg::quote_ident(fk.columns[i])));
      not_null.push_back(fmt::format("c.{} IS NOT NULL", pg::quote_ident(fk.columns[i])));
    }
    for (const auto* parent : sources_of.at(fk.referenced)) {
      parents.push_back(fmt::format("EXISTS (SELECT 1 FROM ONLY {} p WHERE {})", parent->source, fmt::join(match, " AND ")));
    }
    for (const auto* child : sources_of.at(fk.table)) {
      checks.push_back(Check{fmt::format("SELECT count(*), min(ROW({})::text) FROM ONLY {} c WHERE {} AND NOT ({})", joined(fk.columns, "c"),
                      child->source, fmt::join(not_null, " AND "), fmt::join(parents, " OR ")),
          {Severity::Warning, "foreign key", fk.table + " " + pg::quote_ident(fk.name),
           "orphan rows of " + child->source + ": their parent row is not among the rows copied to " + fk.referenced,
           -1, "", "copy the parents too, or remove the orphans"}});
    }
  }
  for (auto& f : run_checks(std::move(checks), options.source, run.snapshot_id, options.jobs)) {
    result.findings.push_back(std::move(f));
  }
  std::erase_if(result.findings, [](const Finding& f) { return f.severity == Severity::Warning && f.rows == 0; });
  size_t errors = 0;
  for (const auto& f : result.findings) {
    errors += f.severity == Severity::Error;
    if (f.severity == Severity::Warning) result.warning_rows += f.rows;
  }
  double ratio = result.rows > 0 ? static_cast<double>(result.warning_rows) / result.rows : 0;
  result.go = errors == 0 && ratio <= options.max_warning_ratio;
  result.verdict = errors > 0 ? fmt::format("no-go: {} error{}", errors, errors == 1 ? "" : "s")
                   : result.go ? fmt::format("go: {} rows with warnings ({:.3f}% of {} rows, at most {:.3f}%)",
                                             result.warning_rows, 100 * ratio, result.rows, 100 * options.max_warning_ratio)
                               : fmt::format("no-go: {} rows with warnings, {:.3f}% of {} rows (at most {:.3f}%)",
                                             result.warning_rows, 100 * ratio, result.rows, 100 * options.max_warning_ratio);
  return result;
}

DryRun failed_plan(const Error& error) {
  DryRun result;
  result.findings.push_back({Severity::Error, "schema", error.object(), error.what(), -1, "", error.hint()});
  result.go = false;
  result.verdict = "no-go: the copy cannot be planned";
  return result;
}

nlohmann::json to_json(const DryRun& d) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : d.findings) {
    findings.push_back({{"severity", to_string(f.severity)}, {"check", f.check}, {"object", f.object},
                        {"message", f.message}, {"rows", f.rows}, {"example", f.example}, {"fix", f.fix},
                        {"seconds", f.seconds}});
  }
  return {{"schema", 1}, {"go", d.go}, {"verdict", d.verdict}, {"rows", d.rows},
          {"warning_rows", d.warning_rows}, {"findings", findings}};
}

}  // namespace pgblit::checks
