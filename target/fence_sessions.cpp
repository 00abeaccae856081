// See fence_sessions.hpp.
#include "target/fence_sessions.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <set>
#include <thread>

#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

// How long pg_terminate_backend waits for one session to exit, and how long pgblit then
// polls pg_stat_activity for the ended ones to be gone.
constexpr int kTerminateWaitMs = 5000;
constexpr auto kGoneWait = std::chrono::seconds(10);

std::string own_list(const std::vector<int>& own) {
  std::vector<std::string> pids;
  for (int pid : own) pids.push_back(std::to_string(pid));
  return pg::text_array_literal(pids);
}

std::string describe(const OtherSession& s) {
  return fmt::format("pid {} (user {}, application_name {}{})", s.pid, s.user,
                     s.application.empty() ? "''" : pg::quote_literal(s.application), s.superuser ? ", a superuser" : "");
}

}  // namespace

std::vector<OtherSession> other_sessions(pg::Connection& source, const std::vector<int>& own) {
  // pg_terminate_backend's own rule (PostgreSQL 14+): a superuser ends any session; no one else
  // ends a superuser's; otherwise the role needs the privileges of the session's role, or of
  // pg_signal_backend. Without privileges on a session's role, pg_stat_activity hides its
  // backend_type (NULL), not its pid, user or application_name.
  source.exec("SELECT pg_stat_clear_snapshot()", "sessions");
  auto r = source.exec_params(R"(
SELECT a.pid, COALESCE(r.rolname, a.usesysid::text), COALESCE(a.application_name, ''), COALESCE(r.rolsuper, false),
       me.rolsuper OR (NOT COALESCE(r.rolsuper, false)
                       AND (pg_has_role(me.oid, a.usesysid, 'USAGE') OR pg_has_role(me.oid, 'pg_signal_backend', 'USAGE')))
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid, pg_roles me
WHERE me.rolname = current_user AND a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND a.usesysid IS NOT NULL AND (a.backend_type = 'client backend' OR a.backend_type IS NULL)
  AND a.pid <> ALL ($1::int[])
ORDER BY a.pid)",
                              {own_list(own)}, "sessions");
  std::vector<OtherSession> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({static_cast<int>(r.int64(i, 0)), r.text(i, 1), r.text(i, 2), r.boolean(i, 3), r.boolean(i, 4)});
  }
  return out;
}

void require_endable(pg::Connection& source, const std::vector<OtherSession>& sessions, const std::string& database) {
  std::vector<std::string> stuck;
  bool superusers = false;
  for (const auto& s : sessions) {
    if (s.may_end) continue;
    stuck.push_back(describe(s));
    superusers = superusers || s.superuser;
  }
  if (stuck.empty()) return;
  std::string role = source.exec("SELECT quote_ident(current_user)", "role").text(0, 0);
  throw usage_error(
      fmt::format("--fence cannot end {} session{} of the source database {}, whose open transactions could go on "
                  "writing during the copy; nothing was changed: {}",
                  stuck.size(), stuck.size() == 1 ? "" : "s", pg::quote_ident(database), fmt::join(stuck, ", ")),
      database,
      fmt::format("GRANT pg_signal_backend TO {} (as a superuser) so it may end other roles' sessions{}; or end "
                  "these sessions yourself (SELECT pg_terminate_backend(pid)) and run again",
                  role, superusers ? "; a superuser's session only a superuser may end" : ""));
}

int end_other_sessions(pg::Connection& source, const std::vector<int>& own, const std::string& database) {
  // Sessions found now connected before the read-only default was committed, or after it (and
  // started read-only): each is ended, and whoever connected meanwhile must be endable too.
  auto sessions = other_sessions(source, own);
  require_endable(source, sessions, database);
  std::set<int> ended;
  for (const auto& s : sessions) {
    // Waits up to kTerminateWaitMs for the backend to exit; false (with a warning) if it has not.
    source.exec_params(fmt::format("SELECT pg_terminate_backend($1::int, {})", kTerminateWaitMs),
                       {std::to_string(s.pid)}, "sessions");
    ended.insert(s.pid);
  }
  // Checked, not assumed: none of them may still be there.
  auto deadline = std::chrono::steady_clock::now() + kGoneWait;
  for (;;) {
    std::vector<std::string> left;
    for (const auto& s : other_sessions(source, own)) {
      if (ended.count(s.pid)) left.push_back(describe(s));
    }
    if (left.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ErrorKind::Runtime,
                  fmt::format("--fence ended sessions of the source database {} that did not go away: {}",
                              pg::quote_ident(database), fmt::join(left, ", ")),
                  database, "see what they are doing in pg_stat_activity, end them, and run again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return static_cast<int>(ended.size());
}

}  // namespace pgblit::target
