// See plan.hpp.
#include "plan/plan.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "pg/sql.hpp"

namespace pgblit::plan {

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

const mapping::TableMapping* entry_of(const mapping::Mapping& mapping, const TableCopy& table) {
  const mapping::TableMapping* namesake = nullptr;
  for (const auto& entry : mapping.tables) {
    auto [schema, name] = mapping::split_name(entry.source);
    if (pg::qualified_name(schema, name) != table.source) continue;
    if (entry.target.empty()) {
      if (!namesake) namesake = &entry;
      continue;
    }
    auto [target_schema, target_name] = mapping::split_name(entry.target);
    if (pg::qualified_name(target_schema, target_name) == table.target) return &entry;
  }
  return namesake;
}

// Every field named, and read back with at(): a field the plan gains and these lines forget is
// a round trip that loses it, which the unit test catches.
NLOHMANN_JSON_SERIALIZE_ENUM(CopyFormat, {{CopyFormat::Binary, "binary"}, {CopyFormat::Text, "text"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TableCopy, source, target, target_partitioned, columns, format, text_reason,
                                   estimated_bytes, estimated_rows, depends_on, key, key_types, key_nullable,
                                   key_fields, key_index, verify_by_chunk, key_mapped, chunking, column_rules, filter,
                                   filter_reason, new_keys, query)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Chunk, table, predicate, estimated_bytes, lower, upper, null_keys)

nlohmann::json to_json(const Plan& plan) {
  return {{"plan_version", kPlanVersion}, {"tables", plan.tables},   {"chunks", plan.chunks},
          {"schemas", plan.schemas},      {"warnings", plan.warnings}};
}

Plan plan_from_json(const nlohmann::json& json) {
  if (json.value("plan_version", 1) != kPlanVersion) {
    throw usage_error(
        fmt::format("this run was planned by an older pgblit (plan version {}, this one reads {}): its mapping was "
                    "kept as SQL text, which this pgblit no longer runs",
                    json.value("plan_version", 1), kPlanVersion),
        "", "start a new run (pgblit clean, then pgblit copy), or finish this one with the pgblit that began it");
  }
  Plan plan;
  plan.tables = json.at("tables").get<std::vector<TableCopy>>();
  plan.chunks = json.at("chunks").get<std::vector<Chunk>>();
  plan.schemas = json.at("schemas").get<std::vector<std::string>>();
  plan.warnings = json.at("warnings").get<std::vector<std::string>>();
  return plan;
}

}  // namespace pgblit::plan
