// See subscription.hpp.
#include "target/subscription.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pg/sql.hpp"

namespace pgblit::target {

void create_subscription(pg::Connection& target, const SubscriptionSpec& spec) {
  // The connection string travels as a literal: the server keeps it (readable by superusers
  // only); pgblit's own messages show only the redacted form.
  target.exec(fmt::format("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (slot_name = {}, create_slot = false, "
                          "copy_data = false, enabled = true)",
                          pg::quote_ident(spec.name), pg::quote_literal(spec.source_conninfo),
                          pg::quote_ident(spec.publication), pg::quote_literal(spec.slot)),
              spec.name);
}

void drop_subscription(pg::Connection& target, const std::string& name) {
  if (target.exec_params("SELECT count(*) FROM pg_subscription WHERE subname = $1 AND subdbid = "
                         "(SELECT oid FROM pg_database WHERE datname = current_database())",
                         {name}, name).int64(0, 0) == 0) {
    return;
  }
  // Without a slot the DROP does not connect to the source: the source's side is dropped by
  // pgblit itself, even when the target cannot reach the source any more.
  auto sub = pg::quote_ident(name);
  target.exec(fmt::format("ALTER SUBSCRIPTION {} DISABLE", sub), name);
  target.exec(fmt::format("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", sub), name);
  target.exec(fmt::format("DROP SUBSCRIPTION {}", sub), name);
}

SubscriptionState subscription_state(pg::Connection& target, const std::string& name) {
  auto r = target.exec_params(R"(
SELECT s.subenabled, st.pid IS NOT NULL,
       extract(epoch FROM now() - st.latest_end_time)::float8,
       COALESCE(st.received_lsn::text, ''), COALESCE(st.latest_end_lsn::text, '')
FROM pg_subscription s LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                              {name}, name);
  SubscriptionState s;
  if (r.rows() == 0) return s;
  s.exists = true;
  s.enabled = r.boolean(0, 0);
  s.worker_running = r.boolean(0, 1);
  if (!r.is_null(0, 2)) s.lag_seconds = std::stod(r.text(0, 2));
  s.received_lsn = r.text(0, 3);
  s.latest_end_lsn = r.text(0, 4);
  return s;
}

}  // namespace pgblit::target
