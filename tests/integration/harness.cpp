// See harness.hpp.
#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace pgblit::test {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void keep_screenshot(const std::filesystem::path& png) {
  if (const char* dir = std::getenv("PGBLIT_SCREENSHOT_DIR")) {
    std::filesystem::copy_file(png, std::filesystem::path(dir) / png.filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}
namespace {

std::string shell_quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void recreate_database(int port, const std::string& db) {
  auto admin = pg::Connection::open(cluster_url(port, "postgres"), "admin");
  admin.exec("DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
  admin.exec("CREATE DATABASE \"" + db + "\"");
}

// Both sides at once: every test pays this, and the two servers are apart.
void recreate_database_pair(const std::string& db) {
  auto target = std::async(std::launch::async, [&] { recreate_database(target_port(), db); });
  recreate_database(source_port(), db);
  target.get();  // its error, if any, after the source's
}

}  // namespace

int source_port() { return PGBLIT_TEST_SOURCE_PORT; }
int target_port() { return PGBLIT_TEST_TARGET_PORT; }

std::string cluster_url(int port, const std::string& db) {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/" + db;
}

// The pgblit under test: the build's, or PGBLIT_TEST_BINARY (a long bench run tests a copy, so
// a rebuild meanwhile does not change what it tests).
const char* pgblit_binary() {
  const char* binary = std::getenv("PGBLIT_TEST_BINARY");
  return binary != nullptr && *binary != '\0' ? binary : PGBLIT_BINARY;
}

RunResult run_pgblit(const std::vector<std::string>& args) {
  std::string command = shell_quote(pgblit_binary());
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " 2>&1 </dev/null";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool mentions(const RunResult& run, const std::string& text) { return run.output.find(text) != std::string::npos; }

std::string shell_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  pclose(pipe);
  return out;
}

void DatabasePair::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  set_up_databases(std::string(info->test_suite_name()) + "_" + info->name());
}

void DatabasePair::set_up_databases(const std::string& name) {
  db_ = name;
  std::transform(db_.begin(), db_.end(), db_.begin(), [](unsigned char c) { return std::isalnum(c) ? std::tolower(c) : '_'; });
  if (db_.size() > 60) db_ = db_.substr(0, 50) + "_" + std::to_string(std::hash<std::string>{}(db_) % 1000000000);
  recreate_database_pair(db_);
  source_ = std::make_unique<pg::Connection>(pg::Connection::open(source_url(), "source"));
  target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target"));
}

std::string DatabasePair::source_url() const { return cluster_url(source_port(), db_); }
std::string DatabasePair::target_url() const { return cluster_url(target_port(), db_); }
pg::Result DatabasePair::source_sql(const std::string& sql) { return source_->exec(sql); }
pg::Result DatabasePair::target_sql(const std::string& sql) { return target_->exec(sql); }

void DatabasePair::both_sql(const std::string& sql) {
  source_->exec(sql);
  target_->exec(sql);
}

std::string DatabasePair::source_value(const std::string& sql) {
  auto r = source_->exec(sql);
  return r.rows() == 0 || r.is_null(0, 0) ? "" : r.text(0, 0);
}

std::string DatabasePair::target_value(const std::string& sql) {
  auto r = target_->exec(sql);
  return r.rows() == 0 || r.is_null(0, 0) ? "" : r.text(0, 0);
}

std::vector<std::string> DatabasePair::copy_args(const std::vector<std::string>& args) const {
  std::vector<std::string> all{"copy", "--source", source_url(), "--target", target_url()};
  all.insert(all.end(), args.begin(), args.end());
  // Tests have no terminal to confirm on; a test of the confirmation itself builds its own line.
  if (std::find(all.begin(), all.end(), "--yes") == all.end()) all.push_back("--yes");
  return all;
}

RunResult DatabasePair::copy(const std::vector<std::string>& args) { return run_pgblit(copy_args(args)); }

std::unique_ptr<PgblitProcess> holding_after(const char* moment, int k, const std::vector<std::string>& args,
                                             const std::string& release) {
  setenv(moment, std::to_string(k).c_str(), 1);
  if (!release.empty()) setenv("PGBLIT_HOLD_RELEASE", release.c_str(), 1);
  auto process = std::make_unique<PgblitProcess>(args);
  unsetenv(moment);
  unsetenv("PGBLIT_HOLD_RELEASE");
  return process;
}

PgblitProcess::PgblitProcess(const std::vector<std::string>& args) {
  static int counter = 0;
  log_ = "/tmp/pgblit-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".log";
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    std::vector<char*> argv{const_cast<char*>(pgblit_binary())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(pgblit_binary(), argv.data());
    _exit(127);
  }
}

PgblitProcess::~PgblitProcess() {
  if (!waited_) {
    kill_now();
    wait();
  }
  unlink(log_.c_str());
}

void PgblitProcess::kill_now() {
  if (!waited_) kill(pid_, SIGKILL);
}

void PgblitProcess::interrupt() {
  if (!waited_) kill(pid_, SIGINT);
}

std::string PgblitProcess::output_so_far() const {
  std::ifstream in(log_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

RunResult PgblitProcess::wait() {
  if (waited_) return result_;
  int status = 0;
  waitpid(pid_, &status, 0);
  waited_ = true;
  result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log_);
  result_.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return result_;
}

void pg_ctl(const std::string& side, const std::string& action) {
  std::string dir = std::string(PGBLIT_TEST_CLUSTER_DIR) + "/" + side;
  std::string bin = "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl";
  std::string as_postgres = getuid() == 0 ? "runuser -u postgres -- " : "";
  std::string command = as_postgres + bin + " -D " + dir + " -l " + dir + ".log -w " + action + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) ADD_FAILURE() << "pg_ctl failed: " << command;
}

std::string DatabasePair::contents(pg::Connection& conn, const std::string& relation) {
  auto r = conn.exec("SELECT count(*) || ' rows, ' || COALESCE(md5(string_agg(x, E'\\n' ORDER BY x)), '-') "
                     "FROM (SELECT t::text AS x FROM " + relation + " t) s");
  return r.text(0, 0);
}

void DatabasePair::expect_same_contents(const std::string& relation) { expect_same_contents(relation, relation); }

void DatabasePair::expect_same_contents(const std::string& source_relation, const std::string& target_relation) {
  std::string want = contents(*source_, source_relation);
  EXPECT_EQ(contents(*target_, target_relation), want) << "contents of " << target_relation;
  EXPECT_NE(want.rfind("0 rows", 0), 0u) << source_relation << " is empty: the comparison would prove nothing";
}

namespace {
constexpr int kGate = 424242;
}

bool eventually(const std::function<bool()>& fact, int seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (fact()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void DatabasePair::gate_inserts_into(const std::string& table) {
  target_sql(fmt::format(R"(CREATE OR REPLACE FUNCTION public.pgblit_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_lock_shared({0}); PERFORM pg_advisory_unlock_shared({0}); RETURN NEW; END $$)",
                         kGate));
  target_sql("CREATE TRIGGER pgblit_test_gate BEFORE INSERT ON " + table +
             " FOR EACH ROW EXECUTE FUNCTION public.pgblit_test_gate()");
}

void DatabasePair::close_gate() { target_sql(fmt::format("SELECT pg_advisory_lock({})", kGate)); }
void DatabasePair::open_gate() { target_sql(fmt::format("SELECT pg_advisory_unlock({})", kGate)); }

bool DatabasePair::a_lane_waits_at_the_gate() {
  return eventually([&] {
    // Advisory locks are per database: other tests' gates on this cluster do not count.
    return target_value(fmt::format("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                                    "AND objid = {} AND database = (SELECT oid FROM pg_database "
                                    "WHERE datname = current_database())",
                                    kGate)) != "0";
  });
}

}  // namespace pgblit::test
