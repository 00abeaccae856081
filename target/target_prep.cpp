// See target_prep.hpp.
#include "target/target_prep.hpp"

#include <fmt/format.h>

#include <map>

#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

// target table -> is it partitioned (then ONLY would skip its rows, which live in partitions)
std::map<std::string, bool> target_tables(const plan::Plan& plan) {
  std::map<std::string, bool> out;
  for (const auto& t : plan.tables) out[t.target] = t.target_partitioned;
  return out;
}

}  // namespace

void require_superuser_for_disable_triggers(pg::Connection& target) {
  if (target.exec("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").boolean(0, 0)) return;
  throw usage_error("--disable-triggers needs a superuser on the target (it sets session_replication_role)",
                    target.display(),
                    "connect to the target as a superuser, or drop --disable-triggers and let pgblit load "
                    "in foreign-key order");
}

std::vector<std::string> target_tables_with_rows(pg::Connection& target, const plan::Plan& plan) {
  std::vector<std::string> out;
  std::vector<std::string> probes;
  auto run = [&] {
    if (probes.empty()) return;
    auto r = target.exec(fmt::format("{}", fmt::join(probes, " UNION ALL ")), "target tables");
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    probes.clear();
  };
  for (const auto& [name, partitioned] : target_tables(plan)) {
    probes.push_back(fmt::format("SELECT {}::text WHERE EXISTS (SELECT 1 FROM {}{})", pg::quote_literal(name),
                                 partitioned ? "" : "ONLY ", name));
    if (probes.size() == 500) run();
  }
  run();
  return out;
}

void truncate_target_tables(pg::Connection& target, const plan::Plan& plan) {
  std::vector<std::string> names;
  for (const auto& [name, partitioned] : target_tables(plan)) names.push_back((partitioned ? "" : "ONLY ") + name);
  try {
    target.exec(fmt::format("TRUNCATE {}", fmt::join(names, ", ")), "target tables");
  } catch (const Error& e) {
    if (e.sqlstate() != "0A000") throw;
    throw Error(ErrorKind::Usage, std::string("cannot truncate the target tables: ") + e.what(), e.object(),
                "a table outside the selection references them with a foreign key: add it to the selection, "
                "or empty the target yourself",
                e.sqlstate());
  }
}

size_t analyze_target_tables(pg::Connection& target, const plan::Plan& plan,
                             const std::set<std::string>& already) {
  std::vector<std::string> names;
  for (const auto& [name, _] : target_tables(plan)) {
    if (!already.count(name)) names.push_back(name);
  }
  if (!names.empty()) target.exec(fmt::format("ANALYZE {}", fmt::join(names, ", ")), "target tables");
  return names.size();
}

}  // namespace pgblit::target
