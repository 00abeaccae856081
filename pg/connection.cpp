// See connection.hpp.
#include "pg/connection.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "pg/conninfo.hpp"
#include "pg/sql.hpp"

namespace pgblit::pg {
namespace {

// SQLSTATE classes that mean "fix the configuration or the schema", not "try again".
ErrorKind kind_of_sqlstate(std::string_view state) {
  std::string_view cls = state.substr(0, 2);
  if (cls == "28" || cls == "42" || cls == "3D" || cls == "3F") return ErrorKind::Usage;
  return ErrorKind::Runtime;
}

std::string field(const PGresult* result, int code) {
  const char* value = result ? PQresultErrorField(result, code) : nullptr;
  return value ? value : "";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Connection failures carry no SQLSTATE; these phrases of libpq and the server mean the
// configuration is wrong (user, password, database, pg_hba), not that the server is away.
bool is_configuration_failure(std::string_view message) {
  for (std::string_view phrase : {"authentication failed", "no password supplied", "does not exist",
                                  "no pg_hba.conf entry", "password is required", "invalid", "SSL"}) {
    if (message.find(phrase) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

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
  if (!conninfo.empty()) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
    if (!options) {
      std::string why = parse_error ? trimmed(parse_error) : "cannot parse";
      PQfreemem(parse_error);
      throw usage_error(fmt::format("the {} connection string is not valid: {}", c.role_, scrub_password(why, conninfo)),
                        c.display_, "write it as a URI (postgresql://user@host:5432/db) or as key=value pairs");
    }
    PQconninfoFree(options);
  }
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "pgblit", nullptr};
  c.conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!c.conn_ || PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string why = scrub_password(trimmed(c.conn_ ? PQerrorMessage(c.conn_.get()) : "out of memory"), conninfo);
    bool config = is_configuration_failure(why);
    throw Error(config ? ErrorKind::Usage : ErrorKind::Runtime,
                fmt::format("cannot connect to the {} ({}): {}", c.role_, c.display_, why), c.display_,
                config ? "check the user, password (.pgpass or PGPASSWORD), database name and pg_hba.conf"
                       : "check host and port, and that the server is running (pg_isready)");
  }
  c.canceller_.reset(PQgetCancel(c.conn_.get()));
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
