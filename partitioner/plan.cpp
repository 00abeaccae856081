// See plan.hpp.
#include "partitioner/plan.hpp"

#include <algorithm>

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
                      {"verify_by_chunk", t.verify_by_chunk},
                      {"key_index", t.key_index},
                      {"chunking", t.chunking}});
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

}  // namespace pgblit::partitioner
