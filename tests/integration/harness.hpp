// What every integration test needs: a fresh database pair on the test clusters (started by
// the ctest fixture `clusters`), SQL on either side, the real pgblit binary run as a
// process, and a comparison of table contents by query.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::test {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs build/bin/pgblit with these arguments (shell-quoted here) and waits for it.
RunResult run_pgblit(const std::vector<std::string>& args);
// Whether what pgblit printed holds `text`.
bool mentions(const RunResult& run, const std::string& text);
// What a shell command prints on stdout (pg_dump, chromium, script...).
std::string shell_output(const std::string& command);
// A file's whole text ("" when it cannot be read), and how often `what` occurs in a text.
std::string slurp(const std::filesystem::path& file);
size_t count(const std::string& text, const std::string& what);
// A screenshot a test took, copied to $PGBLIT_SCREENSHOT_DIR when set (how docs/images are made).
void keep_screenshot(const std::filesystem::path& png);

// pgblit as a background process, for tests that kill it or act on the servers meanwhile.
class PgblitProcess {
 public:
  explicit PgblitProcess(const std::vector<std::string>& args);
  ~PgblitProcess();
  void kill_now();    // SIGKILL
  void interrupt();   // SIGINT, as Ctrl-C
  std::string output_so_far() const;
  RunResult wait();   // exit code (128 + signal if killed) and everything it printed
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  std::string log_;
  bool waited_ = false;
  RunResult result_;
};

// pgblit in the background at a named moment (core/test_moment.hpp): with `moment`
// (kAfterChunks, kAfterRebuilds, kAfterRereads) set to k in its environment, it holds once k chunks are
// committed, k deferred objects rebuilt or k tables' changed rows read again, for the test to read
// that fact and kill it. With a `release` file, it goes on once the test creates that file
// (PGBLIT_HOLD_RELEASE).
inline constexpr const char* kAfterChunks = "PGBLIT_HOLD_AFTER_CHUNKS";
inline constexpr const char* kAfterRebuilds = "PGBLIT_HOLD_AFTER_REBUILDS";
inline constexpr const char* kAfterRereads = "PGBLIT_HOLD_AFTER_REREADS";
std::unique_ptr<PgblitProcess> holding_after(const char* moment, int k, const std::vector<std::string>& args,
                                             const std::string& release = "");

// Runs pg_ctl on one of the test clusters ("source" or "target"), as user postgres.
void pg_ctl(const std::string& side, const std::string& action);

// A database of the test's own name on the source and on the target, created empty.
class DatabasePair : public ::testing::Test {
 protected:
  void SetUp() override;

  // SetUp with databases of this name (lower-cased, other than letters and digits as '_'): for
  // parameterized tests, whose names hold '/'.
  void set_up_databases(const std::string& name);

  std::string source_url() const;
  std::string target_url() const;
  // Runs SQL on one side and returns the result.
  pg::Result source_sql(const std::string& sql);
  pg::Result target_sql(const std::string& sql);
  // Runs the same DDL on both sides.
  void both_sql(const std::string& sql);
  // The first column of the first row, as text ("" for NULL or no row).
  std::string source_value(const std::string& sql);
  std::string target_value(const std::string& sql);

  // `pgblit copy --source ... --target ... ARGS`
  RunResult copy(const std::vector<std::string>& args = {});
  std::vector<std::string> copy_args(const std::vector<std::string>& args = {}) const;

  // Row count and an order-independent digest of the table's rows in text form, exact to
  // the byte (-0 and 0 differ, 1.0 and 1.00 differ). `relation` is SQL (quoted as needed).
  std::string contents(pg::Connection& conn, const std::string& relation);
  void expect_same_contents(const std::string& relation);
  void expect_same_contents(const std::string& source_relation, const std::string& target_relation);

  // Moments are facts, not sleeps. A gate on the target: while the test holds it (an advisory
  // lock of this database), every insert into a gated table waits, so a run stops right there.
  void gate_inserts_into(const std::string& table);
  void close_gate();
  void open_gate();
  // Whether (within 60 s) a session of pgblit waits at the gate: the run is recorded, its
  // deferred objects dropped, and a lane is loading the gated table.
  bool a_lane_waits_at_the_gate();

  std::string db_;
  std::unique_ptr<pg::Connection> source_;
  std::unique_ptr<pg::Connection> target_;
};

// Waits (polling, at most `seconds`) until `fact` holds; whether it did.
bool eventually(const std::function<bool()>& fact, int seconds = 60);

std::string cluster_url(int port, const std::string& db);
int source_port();
int target_port();

}  // namespace pgblit::test
