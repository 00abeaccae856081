// See copy.hpp.
#include "pg/copy.hpp"

#include <fmt/format.h>

namespace pgblit::pg {
namespace {

// Runs a COPY statement (as exactly one statement: the extended protocol) and checks the
// server entered the expected COPY state.
void start(Connection& conn, const std::string& sql, ExecStatusType expected, const std::string& object,
           bool one_statement) {
  Result result(one_statement ? PQexecParams(conn.raw(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)
                              : PQexec(conn.raw(), sql.c_str()));
  if (PQresultStatus(result.get()) != expected) {
    auto error = server_error(conn.raw(), result.get(), fmt::format("starting COPY on the {}", conn.role()), object);
    finish_command(conn.raw(), "", object);  // a protocol mix-up: end whatever is open
    throw error;
  }
}

// A COPY out is always "COPY (query) TO STDOUT[ (FORMAT f)]", and its query may hold a
// mapping's SQL. The query alone is prepared first (the extended protocol's Parse takes exactly
// one statement, and parses it with the server's own lexer): text that would close the
// parenthesis early (`true) TO PROGRAM '...' --`) or add a statement is refused by the server
// before the COPY runs. Only then does the COPY, itself one statement, start.
void check_copy_out(Connection& conn, const std::string& sql, const std::string& object) {
  constexpr std::string_view kHead = "COPY (";
  constexpr std::string_view kTail = ") TO STDOUT";
  auto tail = sql.rfind(kTail);
  std::string_view options = tail == std::string::npos ? "" : std::string_view(sql).substr(tail + kTail.size());
  if (!sql.starts_with(kHead) || tail == std::string::npos || tail < kHead.size() ||
      (!options.empty() && options != " (FORMAT binary)" && options != " (FORMAT text)")) {
    throw Error(ErrorKind::Runtime, "pgblit reads with COPY (query) TO STDOUT only; refused another form", object);
  }
  std::string query = sql.substr(kHead.size(), tail - kHead.size());
  Result prepared(PQprepare(conn.raw(), "", query.c_str(), 0, nullptr));
  if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    throw server_error(conn.raw(), prepared.get(), fmt::format("checking the query of a COPY on the {}", conn.role()),
                       object);
  }
}

}  // namespace

CopyIn::CopyIn(Connection& conn, const std::string& sql, std::string object) : conn_(conn), object_(std::move(object)) {
  start(conn_, sql, PGRES_COPY_IN, object_, false);
}

CopyIn::~CopyIn() {
  if (open_) end("pgblit: COPY abandoned");
}

bool CopyIn::put(std::span<const char> data) {
  if (failed_) return false;
  if (PQputCopyData(conn_.raw(), data.data(), static_cast<int>(data.size())) != 1) failed_ = true;
  return !failed_;
}

CommandEnd CopyIn::end(const char* failure) {
  open_ = false;
  if (PQputCopyEnd(conn_.raw(), failure) != 1) failed_ = true;  // the result below says why
  auto ended = finish_command(conn_.raw(), fmt::format("loading into the {}", conn_.role()), object_);
  if (!ended.error && failed_ && !failure) {
    ended.error = Error(ErrorKind::Runtime, fmt::format("lost the {} connection while loading", conn_.role()), object_,
                        "", kSqlstateConnectionFailure);
  }
  return ended;
}

CopyOut::CopyOut(Connection& conn, const std::string& sql, std::string object)
    : conn_(conn), object_(std::move(object)), reader_((check_copy_out(conn, sql, object_), start(conn, sql, PGRES_COPY_OUT, object_, true), conn.raw())) {}

CopyOut::~CopyOut() {
  if (!open_) return;
  conn_.cancel();
  end();
}

void CopyOut::release_row() {
  if (row_) PQfreemem(row_);
  row_ = nullptr;
}

std::span<const char> CopyOut::next() {
  release_row();
  int n = reader_.next(&row_);
  if (n <= 0) {  // -1: the end; -2: a failure, reported by end()
    row_ = nullptr;
    return {};
  }
  return {row_, static_cast<size_t>(n)};
}

CommandEnd CopyOut::end() {
  release_row();
  reader_.abandon();
  open_ = false;
  return finish_command(conn_.raw(), fmt::format("reading from the {}", conn_.role()), object_);
}

}  // namespace pgblit::pg
