// See rules.hpp.
#include "mapping/rules.hpp"

#include <array>
#include <stdexcept>
#include <type_traits>

namespace pgblit::mapping {
namespace {

// The JSON name of each alternative, in the variant's order.
constexpr std::array<const char*, std::variant_size_v<ColumnSource>> kKinds{
    "pass_through", "cast", "expression", "value_map", "new_key", "reference", "reference_array"};

template <size_t I = 0>
void read_alternative(const nlohmann::json& json, const std::string& kind, ColumnSource& out) {
  if constexpr (I < std::variant_size_v<ColumnSource>) {
    if (kind == kKinds[I]) {
      out = json.at("rule").get<std::variant_alternative_t<I, ColumnSource>>();
      return;
    }
    read_alternative<I + 1>(json, kind, out);
  } else {
    throw std::invalid_argument("unknown column rule '" + kind + "' in the plan");
  }
}

}  // namespace

void to_json(nlohmann::json& json, const ColumnSource& source) {
  json = nlohmann::json::object();
  json["kind"] = kKinds[source.index()];
  std::visit([&](const auto& rule) { json["rule"] = rule; }, source);
}

void from_json(const nlohmann::json& json, ColumnSource& source) {
  read_alternative(json, json.at("kind").get<std::string>(), source);
}

void to_json(nlohmann::json& json, const TargetColumn& column) {
  json = {{"name", column.name}, {"source", column.source}, {"rescaled", column.rescaled}};
  if (column.padded_to > 0) json["padded_to"] = column.padded_to;
}

void from_json(const nlohmann::json& json, TargetColumn& column) {
  column.name = json.at("name").get<std::string>();
  column.source = json.at("source").get<ColumnSource>();
  column.rescaled = json.at("rescaled").get<bool>();
  column.padded_to = json.value("padded_to", 0);  // absent from plans before char(n) was padded
}

std::string carried_column(const ColumnSource& source) {
  return std::visit(
      [](const auto& rule) -> std::string {
        using T = std::decay_t<decltype(rule)>;
        if constexpr (std::is_same_v<T, Expression>) {
          return "";
        } else if constexpr (std::is_same_v<T, ValueMap>) {
          return "";
        } else if constexpr (std::is_same_v<T, Cast>) {
          return rule.remaps.empty() ? rule.column : "";
        } else {
          return rule.column;
        }
      },
      source);
}

std::string read_type(const ColumnSource& source) {
  return std::visit(
      [](const auto& rule) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(rule)>, PassThrough>) {
          return "";
        } else {
          return rule.type;
        }
      },
      source);
}

}  // namespace pgblit::mapping
