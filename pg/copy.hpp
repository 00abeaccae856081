// The one COPY protocol path of pgblit: starting a COPY, sending or reading its stream,
// ending it and reading its result. Every user (the COPY pump, verification reads, row
// isolation) goes through these two classes, and nothing outside pg/ touches libpq's COPY
// calls. Every libpq result is checked. A COPY never outlives its object mid-stream: a CopyIn
// destroyed before end() aborts its COPY, a CopyOut destroyed before end() cancels and drains
// it, so the connection is always idle (in its transaction) afterwards.
#pragma once

#include <span>
#include <string>

#include "pg/connection.hpp"
#include "pg/copy_reader.hpp"

namespace pgblit::pg {

class CopyIn {
 public:
  // Starts `sql` (COPY ... FROM STDIN) on `conn`; throws with the connection idle.
  CopyIn(Connection& conn, const std::string& sql, std::string object);
  ~CopyIn();
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;

  // Sends bytes of the stream; false once the connection has failed (the server's error
  // comes with end()).
  bool put(std::span<const char> data);
  // Ends the COPY, or with a `failure` message aborts it, and reads its result: the rows
  // loaded, or the first error. The connection is idle afterwards.
  CommandEnd end(const char* failure = nullptr);

 private:
  Connection& conn_;
  std::string object_;
  bool open_ = true;
  bool failed_ = false;
};

class CopyOut {
 public:
  // Starts `sql` (COPY (query) TO STDOUT [(FORMAT binary|text)]) on `conn`, as exactly one
  // statement whose query the server parsed alone first; throws with the connection idle.
  CopyOut(Connection& conn, const std::string& sql, std::string object);
  ~CopyOut();
  CopyOut(const CopyOut&) = delete;
  CopyOut& operator=(const CopyOut&) = delete;

  // The next piece of the stream as the server sent it (one row), valid until the next call;
  // empty at the end of the stream or on a failure (end() tells which).
  std::span<const char> next();
  // Reads the command's result (draining what is left of the stream): rows sent, or the
  // first error. The connection is idle afterwards.
  CommandEnd end();

 private:
  void release_row();

  Connection& conn_;
  std::string object_;
  CopyOutReader reader_;
  char* row_ = nullptr;
  bool open_ = true;
};

}  // namespace pgblit::pg
