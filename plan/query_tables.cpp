// See query_tables.hpp.
#include "plan/query_tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "plan/chunking.hpp"
#include "plan/keys.hpp"
#include "plan/sql_render.hpp"
#include "pg/result_columns.hpp"
#include "pg/sql.hpp"

namespace pgblit::plan {
namespace {

// The query's result columns (names and type names), learned by running it without rows; the
// server's error, as a problem, when it does not run.
std::vector<std::pair<std::string, std::string>> result_columns(pg::Connection& source, const mapping::QueryMapping& q,
                                                                std::vector<std::string>& problems) {
  source.exec("SAVEPOINT pgblit_query");
  try {
    auto r = source.exec_one(fmt::format("SELECT * FROM ({}) pgblit_query LIMIT 0", q.query), q.target);
    source.exec("RELEASE SAVEPOINT pgblit_query");
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& c : pg::result_columns(r)) {
      auto type = source.exec_params("SELECT format_type($1::oid, NULL)", {std::to_string(c.type)}, q.target);
      out.emplace_back(c.name, type.text(0, 0));
    }
    return out;
  } catch (const Error& e) {
    source.exec("ROLLBACK TO SAVEPOINT pgblit_query");
    problems.push_back(fmt::format("{}: the query of {} does not run on the source: {}", q.location, q.target, e.what()));
    return {};
  }
}

// Types whose input rounds to the column's modifier (numeric scale, fractional seconds).
bool rounds_to_modifier(const Column& c) {
  static const std::set<std::string> kRounding{"pg_catalog.numeric", "pg_catalog.timestamp", "pg_catalog.timestamptz",
                                               "pg_catalog.time", "pg_catalog.timetz"};
  return kRounding.contains(c.type) && c.display_type.find('(') != std::string::npos;
}

// The query's estimated size from the source's planner (rows times width).
int64_t estimated_bytes(pg::Connection& source, const TableCopy& table) {
  auto plan = nlohmann::json::parse(
      source.exec_one(fmt::format("EXPLAIN (FORMAT JSON) SELECT * FROM {}", source_relation(table)), table.source).text(0, 0));
  const auto& top = plan.at(0).at("Plan");
  return static_cast<int64_t>(top.at("Plan Rows").get<double>() * top.at("Plan Width").get<double>());
}

}  // namespace

std::string query_label(const std::string& target) { return "query:" + target; }

void add_query_tables(pg::Connection& source, const mapping::Mapping& mapping,
                      const std::map<std::pair<std::string, std::string>, const Relation*>& targets, Plan& plan,
                      std::map<Oid, std::vector<size_t>>& tables_by_dest, std::vector<std::string>& problems) {
  for (const auto& q : mapping.queries) {
    auto found = targets.find(mapping::split_name(q.target));
    if (found == targets.end()) {
      problems.push_back(fmt::format("{}: target table {} does not exist on the target", q.location, q.target));
      continue;
    }
    const Relation& dest = *found->second;
    if (std::any_of(plan.tables.begin(), plan.tables.end(), [&](const TableCopy& t) { return t.target == dest.qualified(); })) {
      problems.push_back(fmt::format("{}: {} is loaded from a source table too; a query fills a table of its own",
                                     q.location, dest.qualified()));
      continue;
    }
    auto columns = result_columns(source, q, problems);
    if (columns.empty()) continue;
    TableCopy copy;
    copy.source = query_label(dest.qualified());
    copy.target = dest.qualified();
    copy.target_partitioned = dest.kind == 'p';
    copy.query = q.query;
    copy.chunking = "whole (a query without a key)";
    std::set<std::string> taken;
    for (const auto& tc : dest.columns) {
      if (tc.generated) continue;
      bool yielded = std::any_of(columns.begin(), columns.end(), [&](const auto& c) { return c.first == tc.name; });
      if (!yielded) {
        if (tc.not_null && !tc.has_default && !tc.identity) {
          problems.push_back(fmt::format("{}: column \"{}\" of {} is NOT NULL without a default, and the query gives "
                                         "it no value",
                                         q.location, tc.name, dest.qualified()));
        }
        continue;
      }
      taken.insert(tc.name);
      // As mapped columns are: read as the target's type without a modifier that would cut, with
      // the one that rounds; a user-defined type travels as text under the target's name.
      bool built_in = tc.type.starts_with("pg_catalog.");
      bool rounds = built_in && rounds_to_modifier(tc);
      std::string type = !built_in ? "text" : rounds ? tc.display_type : tc.type;
      if (!built_in) {
        copy.format = CopyFormat::Text;
        copy.text_reason = fmt::format("column \"{}\" is of the user-defined type {}", tc.name, tc.display_type);
      }
      copy.columns.push_back(tc.name);
      copy.column_rules.push_back({tc.name, mapping::Cast{tc.name, type}, rounds});
    }
    for (const auto& [name, type] : columns) {
      if (!taken.contains(name)) {
        problems.push_back(fmt::format("{}: the query's column \"{}\" goes nowhere: {} has no such column (name it "
                                       "as a target column with AS)",
                                       q.location, name, dest.qualified()));
      }
    }
    for (const auto& k : q.key) {
      auto column = std::find_if(columns.begin(), columns.end(), [&](const auto& c) { return c.first == k; });
      auto field = std::find(copy.columns.begin(), copy.columns.end(), k);
      if (column == columns.end() || field == copy.columns.end()) {
        problems.push_back(fmt::format("{}: 'key' names \"{}\", which the query's result does not load into {}",
                                       q.location, k, dest.qualified()));
        continue;
      }
      copy.key.push_back(k);
      copy.key_types.push_back(column->second);
      copy.key_fields.push_back(static_cast<int>(field - copy.columns.begin()));
    }
    // The user's word that the key is never NULL is not trusted with rows: rows with a NULL in
    // it get a chunk of their own, so none is lost.
    copy.key_nullable = !copy.key.empty();
    tables_by_dest[dest.oid].push_back(plan.tables.size());
    plan.tables.push_back(std::move(copy));
  }
}

void cut_query_tables(pg::Connection& source, size_t first, int64_t chunk_bytes, Plan& plan) {
  for (size_t i = first; i < plan.tables.size(); ++i) {
    auto& table = plan.tables[i];
    if (!table.from_query()) continue;
    table.estimated_bytes = estimated_bytes(source, table);
    int64_t count = chunk_count(table.estimated_bytes, chunk_bytes);
    std::vector<std::vector<std::string>> bounds;
    TableKey key{.index = "", .primary = false, .nullable = true, .columns = table.key, .types = table.key_types};
    if (!table.key.empty() && count > 1) {
      // Quantiles of the key over the query's own result (in the planning snapshot; the ranges
      // cover every value whatever changes after, so the run's snapshot loses no row).
      std::vector<std::string> cols, as_text, not_null;
      for (const auto& c : table.key) {
        cols.push_back(pg::quote_ident(c));
        as_text.push_back(pg::quote_ident(c) + "::text AS bound_" + std::to_string(as_text.size()));
        not_null.push_back(pg::quote_ident(c) + " IS NOT NULL");
      }
      auto r = source.exec_one(
          fmt::format("SELECT DISTINCT ON (tile) {0} FROM (SELECT {1}, ntile({2}) OVER (ORDER BY {1}) AS tile FROM {3} "
                      "WHERE {4}) s WHERE tile > 1 ORDER BY tile, {1}",
                      fmt::join(as_text, ", "), fmt::join(cols, ", "), count, source_relation(table),
                      fmt::join(not_null, " AND ")),
          table.source);
      for (int row = 0; row < r.rows(); ++row) {
        std::vector<std::string> bound;
        for (size_t c = 0; c < table.key.size(); ++c) bound.push_back(r.text(row, static_cast<int>(c)));
        if (bounds.empty() || bounds.back() != bound) bounds.push_back(std::move(bound));
      }
    }
    if (table.key.empty()) {
      plan.chunks.push_back(Chunk{.table = i, .estimated_bytes = table.estimated_bytes});
      continue;
    }
    table.chunking = fmt::format("key ranges of the query's result ({} chunks)", bounds.size() + 1);
    int64_t per_chunk = table.estimated_bytes / static_cast<int64_t>(bounds.size() + 1);
    for (size_t b = 0; b <= bounds.size(); ++b) {
      Chunk c{.table = i, .estimated_bytes = per_chunk};
      if (b > 0) c.lower = bounds[b - 1];
      if (b < bounds.size()) c.upper = bounds[b];
      c.predicate = key_range_predicate(key, c.lower, c.upper) + " AND NOT " + null_key_predicate(key);
      plan.chunks.push_back(std::move(c));
    }
    plan.chunks.push_back(Chunk{.table = i, .predicate = null_key_predicate(key), .null_keys = true});
  }
}

}  // namespace pgblit::plan
