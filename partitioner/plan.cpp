// See plan.hpp.
#include "partitioner/plan.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "partitioner/copy_sql.hpp"
#include "pg/sql.hpp"

namespace pgblit::partitioner {

std::vector<std::string> Plan::target_tables() const {
  std::vector<std::string> out;
  for (const auto& t : tables) {
    if (std::find(out.begin(), out.end(), t.target) == out.end()) out.push_back(t.target);
  }
  return out;
}

int64_t Plan::estimated_bytes() const {
  int64_t total = 0;
  for (const auto& t : tables) total += t.estimated_bytes;
  return total;
}

std::string new_key_sql(const std::string& key_remap, const std::string& old) {
  auto rule = nlohmann::json::parse(key_remap);
  if (rule.value("kind", "") == "uuid") {
    return fmt::format("md5({} || ({})::text)::uuid", pg::quote_literal(rule["salt"].get<std::string>()), old);
  }
  return fmt::format("({} - {} + {})", old, rule["source_min"].get<std::string>(), rule["base"].get<std::string>());
}

namespace {
nlohmann::json rescaled_json(const std::vector<Rescale>& rescaled) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rescaled) out.push_back({{"column", r.column}, {"expression", r.expression}, {"type", r.type}});
  return out;
}
nlohmann::json sources_json(const std::vector<ColumnSource>& sources) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : sources) out.push_back({{"column", c.column}, {"cast", c.cast}});
  return out;
}
}  // namespace

nlohmann::json to_json(const Plan& plan) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : plan.tables) {
    tables.push_back({{"source", t.source},
                      {"target", t.target},
                      {"target_partitioned", t.target_partitioned},
                      {"columns", t.columns},
                      {"format", t.format == CopyFormat::Binary ? "binary" : "text"},
                      {"text_reason", t.text_reason},
                      {"estimated_bytes", t.estimated_bytes},
                      {"estimated_rows", t.estimated_rows},
                      {"depends_on", t.depends_on},
                      {"key", t.key},
                      {"key_types", t.key_types},
                      {"key_nullable", t.key_nullable},
                      {"key_fields", t.key_fields},
                      {"key_mapped", t.key_mapped},
                      {"verify_by_chunk", t.verify_by_chunk},
                      {"key_index", t.key_index},
                      {"chunking", t.chunking},
                      {"select_list", t.select_list},
                      {"filter", t.filter},
                      {"filter_reason", t.filter_reason},
                      {"key_remap", t.key_remap},
                      {"rescaled", rescaled_json(t.rescaled)},
                      {"column_sources", sources_json(t.column_sources)}});
  }
  nlohmann::json chunks = nlohmann::json::array();
  for (const auto& c : plan.chunks) {
    chunks.push_back({{"table", c.table},
                      {"predicate", c.predicate},
                      {"estimated_bytes", c.estimated_bytes},
                      {"lower", c.lower},
                      {"upper", c.upper},
                      {"null_keys", c.null_keys}});
  }
  return {{"tables", tables}, {"chunks", chunks}, {"schemas", plan.schemas}, {"warnings", plan.warnings}};
}

Plan plan_from_json(const nlohmann::json& json) {
  Plan plan;
  for (const auto& t : json.at("tables")) {
    TableCopy table;
    table.source = t.at("source");
    table.target = t.at("target");
    table.target_partitioned = t.at("target_partitioned");
    table.columns = t.at("columns").get<std::vector<std::string>>();
    table.format = format_from_name(t.at("format").get<std::string>());
    table.text_reason = t.at("text_reason");
    table.estimated_bytes = t.at("estimated_bytes");
    table.estimated_rows = t.at("estimated_rows");
    table.depends_on = t.at("depends_on").get<std::vector<size_t>>();
    table.key = t.at("key").get<std::vector<std::string>>();
    table.key_types = t.at("key_types").get<std::vector<std::string>>();
    table.key_nullable = t.at("key_nullable");
    table.key_fields = t.at("key_fields").get<std::vector<int>>();
    table.verify_by_chunk = t.at("verify_by_chunk");
    table.key_mapped = t.value("key_mapped", false);
    table.key_index = t.at("key_index");
    table.chunking = t.at("chunking");
    table.select_list = t.value("select_list", std::vector<std::string>{});
    table.filter = t.value("filter", "");
    table.filter_reason = t.value("filter_reason", "");
    table.key_remap = t.value("key_remap", "");
    for (const auto& c : t.value("column_sources", nlohmann::json::array())) {
      table.column_sources.push_back({c.at("column"), c.at("cast")});
    }
    for (const auto& r : t.value("rescaled", nlohmann::json::array())) {
      table.rescaled.push_back({r.at("column"), r.at("expression"), r.at("type")});
    }
    plan.tables.push_back(std::move(table));
  }
  for (const auto& c : json.at("chunks")) {
    Chunk chunk;
    chunk.table = c.at("table");
    chunk.predicate = c.at("predicate");
    chunk.estimated_bytes = c.at("estimated_bytes");
    chunk.lower = c.at("lower").get<std::vector<std::string>>();
    chunk.upper = c.at("upper").get<std::vector<std::string>>();
    chunk.null_keys = c.at("null_keys");
    plan.chunks.push_back(std::move(chunk));
  }
  plan.schemas = json.at("schemas").get<std::vector<std::string>>();
  plan.warnings = json.at("warnings").get<std::vector<std::string>>();
  return plan;
}

}  // namespace pgblit::partitioner
