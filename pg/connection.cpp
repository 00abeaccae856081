// See connection.hpp.
#include "pg/connection.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <mutex>
#include <set>

#include "pg/conninfo.hpp"
#include "pg/sql.hpp"

namespace pgblit::pg {
namespace {

std::string field(const PGresult* result, int code) {
  const char* value = result ? PQresultErrorField(result, code) : nullptr;
  return value ? value : "";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Connection failures carry no SQLSTATE, so libpq's and the server's words are all there is
// to tell why. Each kind gets its own hint: a server that cannot be reached (exit 1, retried
// by lanes), one that has no free connection slot (exit 1, retried), and a configuration to
// fix (exit 2: user, password, database, pg_hba, TLS). Unreachable is decided first, since a
// host name may well contain words like "invalid".
enum class ConnectFailure { Unreachable, NoSlots, Configuration };

ConnectFailure classify_connect_failure(std::string_view message) {
  auto has = [&](std::string_view phrase) { return message.find(phrase) != std::string_view::npos; };
  for (std::string_view phrase : {"could not translate host name", "Connection refused", "No route to host",
                                  "Network is unreachable", "timeout expired", "Connection timed out",
                                  "server closed the connection", "the database system is starting up",
                                  "the database system is shutting down", "the database system is in recovery mode",
                                  "the database system is not yet accepting connections"}) {
    if (has(phrase)) return ConnectFailure::Unreachable;
  }
  if (has("too many clients") || has("remaining connection slots are reserved") ||
      has("too many connections for")) {
    return ConnectFailure::NoSlots;
  }
  return ConnectFailure::Configuration;
}

// Every live connection's cancel handle, for cancel_all_statements().
struct Cancellers {
  std::mutex mutex;
  std::set<PGcancel*> live;
};
Cancellers& cancellers() {
  static Cancellers all;
  return all;
}

}  // namespace

void cancel_all_statements() {
  auto& all = cancellers();
  std::lock_guard lock(all.mutex);
  char buffer[256];
  for (PGcancel* c : all.live) PQcancel(c, buffer, sizeof buffer);
}

void Connection::FreeCancel::operator()(PGcancel* c) const noexcept {
  {
    std::lock_guard lock(cancellers().mutex);
    cancellers().live.erase(c);
  }
  PQfreeCancel(c);
}

int64_t Result::int64(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  int64_t out = 0;
  std::from_chars(value, value + std::char_traits<char>::length(value), out);
  return out;
}

std::vector<std::string> Result::text_array(int row, int column) const {
  return parse_text_array(PQgetvalue(result_.get(), row, column));
}

int64_t Result::affected_rows() const {
  const char* value = PQcmdTuples(result_.get());
  int64_t out = 0;
  std::from_chars(value, value + std::char_traits<char>::length(value), out);
  return out;
}

Error server_error(PGconn* conn, const PGresult* result, std::string_view doing, std::string object) {
  std::string state = field(result, PG_DIAG_SQLSTATE);
  std::string message = field(result, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = trimmed(conn ? PQerrorMessage(conn) : "unknown libpq failure");
  if (std::string detail = field(result, PG_DIAG_MESSAGE_DETAIL); !detail.empty()) message += " (" + detail + ")";
  if (std::string context = field(result, PG_DIAG_CONTEXT); !context.empty())
    message += "; context: " + trimmed(context);
  std::string hint = field(result, PG_DIAG_MESSAGE_HINT);
  // row_security = off (every source session) turns a filtered read into this error: say how to
  // read the table whole. (The message names the table; the kind stays that of 42501.)
  if (state == "42501" && message.find("row-level security") != std::string::npos) {
    hint = (hint.empty() ? "" : hint + "; ") +
           "the source role must read every row: ALTER ROLE ... BYPASSRLS (as a superuser), or connect --source as "
           "the table's owner";
  }
  // No SQLSTATE and a broken connection: the server went away (libpq's own failure). A write
  // that met a closed socket leaves the connection "OK" until a read meets it too (libpq keeps
  // reading what the server sent before it went): read once, so a lost server is seen as one
  // and retried like any lost connection, not taken for a failure of the statement.
  if (state.empty() && conn && PQstatus(conn) == CONNECTION_OK) PQconsumeInput(conn);
  if (state.empty() && (!conn || PQstatus(conn) != CONNECTION_OK)) state = kSqlstateConnectionFailure;
  ErrorKind kind = state.empty() ? ErrorKind::Runtime : kind_of_sqlstate(state);
  return Error(kind, fmt::format("{}: {}", doing, message), std::move(object), std::move(hint), std::move(state));
}

CommandEnd finish_command(PGconn* conn, std::string_view doing, const std::string& object) {
  CommandEnd end;
  while (PGresult* raw = PQgetResult(conn)) {
    Result result(raw);
    switch (PQresultStatus(raw)) {
      case PGRES_COMMAND_OK:
        end.rows = result.affected_rows();
        break;
      case PGRES_COPY_IN:
        PQputCopyEnd(conn, "pgblit: COPY abandoned");
        break;
      case PGRES_COPY_OUT: {
        char* row = nullptr;
        while (PQgetCopyData(conn, &row, 0) > 0) PQfreemem(row);
        break;
      }
      default:
        if (!end.error) end.error = server_error(conn, raw, doing, object);
    }
  }
  return end;
}

namespace {

// Server notices go to the log, not straight to stderr: a WARNING as a warning, the rest
// (NOTICE: "schema already exists, skipping", ...) as debug lines.
void log_notice(void*, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  std::string text = trimmed(PQresultErrorMessage(notice));
  if (severity && std::string_view(severity) == "WARNING") {
    spdlog::warn("server: {}", text);
  } else {
    spdlog::debug("server: {}", text);
  }
}

}  // namespace

Connection Connection::open(const std::string& conninfo, std::string role) {
  Connection c;
  c.role_ = std::move(role);
  c.display_ = redact_conninfo(conninfo);
  scrub_password("", conninfo);  // registers its passwords with the process's Secrets
  if (!conninfo.empty()) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
    if (!options) {
      std::string why = parse_error ? trimmed(parse_error) : "cannot parse";
      PQfreemem(parse_error);
      throw usage_error(fmt::format("the {} connection string is not valid: {}", c.role_,
                                    scrub_password(redact_parse_error(why), conninfo)),
                        c.display_,
                        "write it as a URI (postgresql://user@host:5432/db, with special characters of the "
                        "password percent-encoded: % is %25, @ is %40) or as key=value pairs");
    }
    PQconninfoFree(options);
  }
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "pgblit", nullptr};
  c.conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!c.conn_ || PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string why = scrub_password(trimmed(c.conn_ ? PQerrorMessage(c.conn_.get()) : "out of memory"), conninfo);
    std::string message = fmt::format("cannot connect to the {} ({}): {}", c.role_, c.display_, why);
    switch (classify_connect_failure(why)) {
      case ConnectFailure::Unreachable:
        throw Error(ErrorKind::Runtime, message, c.display_,
                    "the server is unreachable: check host and port, and that it is running (pg_isready)",
                    kSqlstateConnectionFailure);
      case ConnectFailure::NoSlots:
        throw Error(ErrorKind::Runtime, message, c.display_,
                    "the server has no free connection slot: lower -j (each job holds a connection on each side), "
                    "or raise max_connections",
                    kSqlstateTooManyConnections);
      case ConnectFailure::Configuration:
        throw Error(ErrorKind::Usage, message, c.display_,
                    "check the user, password (.pgpass or PGPASSWORD), database name and pg_hba.conf");
    }
  }
  c.canceller_.reset(PQgetCancel(c.conn_.get()));
  if (c.canceller_) {
    std::lock_guard lock(cancellers().mutex);
    cancellers().live.insert(c.canceller_.get());
  }
  PQsetNoticeReceiver(c.conn_.get(), log_notice, nullptr);
  return c;
}

Connection::~Connection() = default;

Result Connection::exec(std::string_view sql, std::string object) {
  Result result(PQexec(conn_.get(), std::string(sql).c_str()));
  ExecStatusType status = result.get() ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw server_error(conn_.get(), result.get(), fmt::format("on the {}", role_), std::move(object));
  }
  return result;
}

Result Connection::exec_params(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                               std::string object) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  Result result(PQexecParams(conn_.get(), std::string(sql).c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  ExecStatusType status = result.get() ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw server_error(conn_.get(), result.get(), fmt::format("on the {}", role_), std::move(object));
  }
  return result;
}

void Connection::cancel() const {
  if (!canceller_) return;
  char buffer[256];
  PQcancel(canceller_.get(), buffer, sizeof buffer);
}

}  // namespace pgblit::pg
