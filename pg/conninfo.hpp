// Connection strings as DBAs write them, shown without their secrets.
#pragma once

#include <string>
#include <vector>

namespace pgblit::pg {

// A form of a libpq connection string (URI or key=value) that is safe to print: the
// password is dropped, and so is anything that does not parse. Example:
// "postgresql://app:s3cret@db1:5432/sales" -> "postgresql://app@db1:5432/sales".
std::string redact_conninfo(const std::string& conninfo);

// The same connection string without its password (nor sslpassword), still usable (for --on-event hooks):
// every other setting it holds, as key=value pairs ("postgresql://app:pw@db1/sales?sslmode=
// require" -> "user='app' dbname='sales' host='db1' sslmode='require'", in libpq's order). Empty when libpq
// cannot parse it.
std::string without_password(const std::string& conninfo);

// A connection string for a client tool run as a child process (pg_dump, psql): every setting
// but the password, which goes to the tool as PGPASSWORD, never on a command line others can
// read. Throws a usage error for a string libpq cannot parse.
struct ToolConnection {
  std::string conninfo;
  std::string password;
};
ToolConnection for_tool(const std::string& conninfo);

// Every text in `conninfo` that may be a password, found by reading the text itself, so it
// works on strings libpq cannot parse ("postgresql://u:pw%zz@h/db", an unterminated quote):
// the URI's user-info password (raw and percent-decoded), `password` query parameters and
// `password=` keywords.
std::vector<std::string> passwords_in(const std::string& conninfo);

// Removes every password of the connection string from a message (libpq and server
// messages normally hold none; this is a line of defence), and registers them with the
// process's Secrets so that no log line can carry them either.
std::string scrub_password(std::string message, const std::string& conninfo);

// libpq's message for a string it cannot parse quotes the offending part of the string,
// which may be (part of) a password: every quoted part is replaced by "…".
std::string redact_parse_error(const std::string& message);

}  // namespace pgblit::pg
