// See schema_create.hpp.
#include "target/schema_create.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/sql.hpp"

extern char** environ;

namespace pgblit::target {
namespace {

namespace fs = std::filesystem;

struct ToolRun {
  int status = -1;
  std::string output;  // stdout
  std::string errors;  // stderr
};

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs a client tool with stdout and stderr to files in `dir`.
ToolRun run_tool(const fs::path& dir, std::vector<std::string> args, const std::string& password) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, (dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&files, 2, (dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).rfind("PGPASSWORD=", 0) != 0) env.emplace_back(*e);
  }
  if (!password.empty()) env.push_back("PGPASSWORD=" + password);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  ToolRun run;
  int spawned = posix_spawnp(&pid, argv[0], &files, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) {
    throw usage_error(fmt::format("cannot run {}: {}", args[0], std::strerror(spawned)), args[0],
                      "install the PostgreSQL client tools (Debian: postgresql-client)");
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  run.output = slurp(dir / "out");
  run.errors = slurp(dir / "err");
  return run;
}

void require_success(const ToolRun& run, const std::string& tool, const std::string& doing, const std::string& hint) {
  if (run.status == 0) return;
  std::string errors = run.errors;
  while (!errors.empty() && errors.back() == '\n') errors.pop_back();
  throw usage_error(fmt::format("{} failed {}: {}", tool, doing, errors), tool, hint);
}

// pg_restore gives no SQLSTATE, so its words say why it failed: a target role that may not
// give objects the source's owners or grant to the source's roles (a managed server's
// non-superuser) needs --no-owner / --no-acl, not objects dropped.
std::string restore_hint(const ToolRun& run, const SchemaCreateOptions& options) {
  auto has = [&](const char* words) { return run.errors.find(words) != std::string::npos; };
  bool ownership = has("OWNER TO") || has("must be member of role") || has("must be able to SET ROLE") ||
                   has("must be owner") ||
                   (has("role \"") && has("does not exist"));
  bool privileges = has("GRANT") || has("REVOKE");
  std::vector<std::string> flags;
  if (ownership && !options.no_owner) flags.push_back("--no-owner (the objects then belong to the target role)");
  if ((privileges || ownership) && !options.no_acl) flags.push_back("--no-acl (privileges are not restored)");
  if (!flags.empty()) {
    return fmt::format("the target role may not set the source's owners or privileges: copy with {}",
                       fmt::join(flags, " and "));
  }
  if (has("already exists")) return "drop what exists already on the target, or copy without --create-schema";
  return "create the schema on the target yourself, or copy without --create-schema";
}

int major_version(const std::string& text) {  // "pg_dump (PostgreSQL) 15.18 (Debian ...)"
  auto at = text.find(") ");
  return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + 2);
}

// The type of a TOC line that belongs with the indexes and constraints ("INDEX", "FK
// CONSTRAINT", a COMMENT on one of them), or "" for any other.
std::string toc_type(const std::string& line) {
  // "4321; 1259 16412 INDEX app customers_org_idx postgres": after the three numbers.
  std::istringstream in(line);
  std::string id, catalog, oid;
  in >> id >> catalog >> oid;
  std::string rest;
  std::getline(in, rest);
  for (const char* type : {"FK CONSTRAINT", "INDEX ATTACH", "CONSTRAINT", "INDEX"}) {
    if (rest.rfind(std::string(" ") + type + " ", 0) == 0) return type;
  }
  // A comment goes with its object: pg_restore restores it only beside it.
  std::istringstream words(rest);
  std::string comment, schema, on;
  words >> comment >> schema >> on;
  if (comment == "COMMENT" && (on == "INDEX" || on == "CONSTRAINT")) return "COMMENT";
  return "";
}

}  // namespace

std::string create_schema(const SchemaCreateOptions& options) {
  auto source = pg::for_tool(options.source);
  auto target = pg::for_tool(options.target);
  auto source_session = pg::Connection::open(options.source, "source");
  int server_major = source_session.server_version() / 10000;
  fs::path dir = fs::temp_directory_path() / fmt::format("pgblit-schema-{}", getpid());
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};

  auto version = run_tool(dir, {"pg_dump", "--version"}, "");
  int client_major = major_version(version.output);
  if (client_major < server_major) {
    throw usage_error(fmt::format("--create-schema needs pg_dump {} or newer for a PostgreSQL {} source; the installed "
                                  "pg_dump is {}",
                                  server_major, server_major, client_major),
                      "pg_dump", fmt::format("install postgresql-client-{} (or create the schema yourself)", server_major));
  }
  // -e '*': the extensions the tables' types and operator classes may come from (pg_dump -n
  // leaves them out); those the target has already are skipped below.
  std::vector<std::string> dump{"pg_dump", "--schema-only", "-Fc", "-e", "*", "-f", (dir / "schema.dump").string()};
  for (const auto& n : options.selection.schemas) dump.insert(dump.end(), {"-n", n});
  for (const auto& t : options.selection.tables) dump.insert(dump.end(), {"-t", t});
  for (const auto& t : options.selection.excluded) dump.insert(dump.end(), {"-T", t});
  dump.insert(dump.end(), {"-d", source.conninfo});
  require_success(run_tool(dir, dump, source.password), "pg_dump", "dumping the source's schema",
                  "check the selection and the source role's privileges");

  // The dump's list, split in three. Schemas the target has already are left out.
  auto listed = run_tool(dir, {"pg_restore", "-l", (dir / "schema.dump").string()}, "");
  require_success(listed, "pg_restore", "listing the dump", "");
  auto existing = pg::Connection::open(options.target, "target")
                      .exec("SELECT (SELECT string_agg(' ' || nspname || ' ', '') FROM pg_namespace), "
                            "(SELECT string_agg(' ' || extname || ' ', '') FROM pg_extension)");
  std::string schemas = existing.text(0, 0), extensions = existing.text(0, 1);
  // An entry "<id>; <n> <n> TYPE - NAME owner" of a kind whose NAME the target has already.
  auto present = [](const std::string& line, const std::string& marker, const std::string& names) {
    auto at = line.find(marker);
    if (at == std::string::npos) return false;
    std::string name = line.substr(at + marker.size());
    return names.find(" " + name.substr(0, name.find(' ')) + " ") != std::string::npos;
  };
  std::string pre, keys, rest;
  for (std::istringstream in(listed.output); ;) {
    std::string line;
    if (!std::getline(in, line)) break;
    if (line.empty() || line[0] == ';') continue;
    if (present(line, " SCHEMA - ", schemas) || present(line, " EXTENSION - ", extensions)) continue;
    if (line.find(" COMMENT - EXTENSION ") != std::string::npos) continue;  // only an extension's owner may
    pre += line + "\n";  // pg_restore --section picks pre-data out of it
    if (!toc_type(line).empty()) {
      keys += line + "\n";
    } else {
      rest += line + "\n";
    }
  }
  std::ofstream(dir / "all.list") << pre;
  std::ofstream(dir / "keys.list") << keys;
  std::ofstream(dir / "rest.list") << rest;
  std::vector<std::string> restore{"pg_restore", "--single-transaction", "--exit-on-error", "-d", target.conninfo};
  if (options.no_owner) restore.push_back("--no-owner");
  if (options.no_acl) restore.push_back("--no-acl");
  auto with = [&](std::vector<std::string> extra) {
    auto args = restore;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back((dir / "schema.dump").string());
    return args;
  };
  auto tables = run_tool(dir, with({"--section=pre-data", "-L", (dir / "all.list").string()}), target.password);
  require_success(tables, "pg_restore", "creating the tables on the target", restore_hint(tables, options));
  auto keys_run = run_tool(dir, with({"-L", (dir / "keys.list").string()}), target.password);
  require_success(keys_run, "pg_restore", "creating the indexes and constraints on the target",
                  restore_hint(keys_run, options));
  // The rest as SQL: what psql would run, less its own meta-commands.
  std::vector<std::string> script{"pg_restore", "--section=post-data", "-L", (dir / "rest.list").string(), "-f", "-"};
  if (options.no_owner) script.push_back("--no-owner");
  if (options.no_acl) script.push_back("--no-acl");
  script.push_back((dir / "schema.dump").string());
  auto after = run_tool(dir, script, "");
  require_success(after, "pg_restore", "writing the post-data script", "");
  std::string sql;
  bool any = false;
  for (std::istringstream in(after.output);;) {
    std::string line;
    if (!std::getline(in, line)) break;
    if (!line.empty() && line[0] == '\\') continue;  // \restrict and the like: psql's, not SQL
    any |= !line.empty() && line.rfind("--", 0) != 0 && line.rfind("SET ", 0) != 0 && line.rfind("SELECT pg_catalog.set_config", 0) != 0;
    sql += line + "\n";
  }
  spdlog::info("created the selected schema on the target with pg_dump and pg_restore {}", client_major);
  return any ? sql : "";
}

void dump_schema(const std::string& source, const plan::Selection& selection, const std::string& snapshot_id,
                 const std::string& file) {
  auto tool = pg::for_tool(source);
  fs::path dir = fs::temp_directory_path() / fmt::format("pgblit-schema-{}", getpid());
  fs::create_directories(dir);
  std::vector<std::string> dump{"pg_dump", "--schema-only", "-Fc", "-e", "*", "--snapshot", snapshot_id,
                                "-f", file + ".tmp"};
  for (const auto& n : selection.schemas) dump.insert(dump.end(), {"-n", n});
  for (const auto& t : selection.tables) dump.insert(dump.end(), {"-t", t});
  for (const auto& t : selection.excluded) dump.insert(dump.end(), {"-T", t});
  dump.insert(dump.end(), {"-d", tool.conninfo});
  auto run = run_tool(dir, dump, tool.password);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  require_success(run, "pg_dump", "dumping the source's schema", "check the selection and the source role's privileges");
  fs::rename(file + ".tmp", file);
}

}  // namespace pgblit::target
