// RAII over libpq: a Connection owns its PGconn, a Result its PGresult.
//
// Every server error becomes a pgblit::Error carrying the SQLSTATE, the server's message,
// detail and hint, and the object it concerns. Connection strings are passed to libpq as
// they are (URI or key=value), so .pgpass, PGSERVICE, PG* variables and sslmode work; only
// their redacted form (conninfo.hpp) ever reaches a message.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pgblit::pg {

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}

  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column); }
  std::string text(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  int64_t int64(int row, int column) const;
  bool boolean(int row, int column) const { return PQgetvalue(result_.get(), row, column)[0] == 't'; }
  // A text[] value, as returned by the server ("{a,"b c"}").
  std::vector<std::string> text_array(int row, int column) const;
  // Rows affected by COPY, INSERT, ... (PQcmdTuples).
  int64_t affected_rows() const;
  PGresult* get() const { return result_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

// What the last command on a connection ended with.
struct CommandEnd {
  std::optional<Error> error;  // the first failure reported, if any
  int64_t rows = 0;            // rows it affected (COPY n, INSERT 0 n, ...)
};

// Reads every remaining result of `conn` after an asynchronous command (a COPY's final status),
// ending a COPY left open by a protocol mix-up, so the connection is idle afterwards.
CommandEnd finish_command(PGconn* conn, std::string_view doing, const std::string& object);

// Turns a failed PGresult (or, without one, the connection's last error) into a pgblit::Error.
Error server_error(PGconn* conn, const PGresult* result, std::string_view doing, std::string object = {});

// Asks every server this process is connected to to cancel what it is running: the first
// Ctrl-C ends any wait at once (a lock wait while planning, a TRUNCATE), wherever it is.
void cancel_all_statements();

class Connection {
 public:
  // Connects, or throws: ErrorKind::Usage for a malformed string or failed authentication
  // (fix the configuration), ErrorKind::Runtime for a server that cannot be reached.
  // `role` ("source", "target") names the side in messages.
  static Connection open(const std::string& conninfo, std::string role);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection();

  // Runs one or more statements; throws pgblit::Error on failure. `object` names what the
  // statement works on, for the message.
  Result exec(std::string_view sql, std::string object = {});
  // Exactly one statement, through the extended protocol (the server refuses a second one):
  // for every statement that embeds user-written SQL (a mapping's expressions and filters),
  // so that text cannot end the read-only transaction and run statements of its own.
  Result exec_one(std::string_view sql, std::string object = {}) { return exec_params(sql, {}, std::move(object)); }
  // One statement with text parameters ($1, $2, ...); std::nullopt is NULL.
  Result exec_params(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                     std::string object = {});

  // Asks the server to cancel whatever this connection is running. Thread-safe: may be called
  // from any thread while another thread is blocked on this connection.
  void cancel() const;

  // The session is up (not lost to a restart, a terminate, a network failure).
  bool alive() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  // A transaction is open (or aborted) on it.
  bool in_transaction() const { return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE; }
  PGconn* raw() const { return conn_.get(); }
  const std::string& role() const { return role_; }
  const std::string& display() const { return display_; }
  int server_version() const { return PQserverVersion(conn_.get()); }
  // The server process serving this session (pg_stat_activity.pid), e.g. for a fence to spare.
  int backend_pid() const { return PQbackendPID(conn_.get()); }

 private:
  Connection() = default;
  struct Finish {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  struct FreeCancel {
    void operator()(PGcancel* c) const noexcept;  // also forgets it for cancel_all_statements()
  };
  std::unique_ptr<PGconn, Finish> conn_;
  std::unique_ptr<PGcancel, FreeCancel> canceller_;
  std::string role_;
  std::string display_;
};

}  // namespace pgblit::pg
