// See key_map.hpp.
#include "runs/key_map.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mover/copy_pump.hpp"
#include "pg/session.hpp"
#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::runs {

void record_key_map(mover::RunCatalog& catalog, int64_t run, const plan::Plan& plan, pg::Connection& source,
                    pg::Connection& target, pg::Cancellation& cancellation) {
  std::optional<mover::BlockPool> pool;
  std::string key_map = pg::quote_ident(catalog.schema()) + ".key_map";
  for (const auto& t : plan.tables) {
    if (!t.merged()) continue;
    if (!pool) pool.emplace();
    auto old_key = pg::quote_ident(t.new_keys.source_column);
    std::string read = fmt::format(
        "COPY ({}) TO STDOUT",
        plan::source_select_sql(t, fmt::format("{}, {}, {}::text, ({})::text", run, pg::quote_literal(t.target), old_key,
                                                      plan::new_key_sql(t.new_keys, old_key))));
    target.exec("BEGIN", key_map);
    try {
      target.exec_params(fmt::format("DELETE FROM {} WHERE run_id = $1 AND target_table = $2", key_map),
                         {std::to_string(run), t.target}, key_map);
      auto written = mover::pump_copy(source, target, read,
                               fmt::format("COPY {} (run_id, target_table, old_key, new_key) FROM STDIN", key_map),
                               *pool, nullptr, cancellation, key_map);
      target.exec("COMMIT", key_map);
      spdlog::info("{}: {} old -> new keys kept in {}", t.target, written.rows, key_map);
    } catch (...) {
      pg::rollback_quietly(target);
      throw;
    }
  }
}

}  // namespace pgblit::runs
