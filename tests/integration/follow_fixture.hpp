// What the follow tests share (follow_test.cpp, follow_edge_test.cpp): a database pair freed of what a failed
// earlier run left (a subscription or a slot blocks DROP DATABASE), copy --follow until the
// target follows, the facts waited on (the apply worker runs, the target caught up), the
// cutover as a process, and nothing left on either server.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace pgblit::test {

inline void drop_leftover_replication(const std::string& db) {
  try {
    auto target = pg::Connection::open(cluster_url(target_port(), db), "target");
    auto subs = target.exec("SELECT subname FROM pg_subscription WHERE subdbid = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())");
    for (int i = 0; i < subs.rows(); ++i) {
      auto name = "\"" + subs.text(i, 0) + "\"";
      target.exec("ALTER SUBSCRIPTION " + name + " DISABLE");
      target.exec("ALTER SUBSCRIPTION " + name + " SET (slot_name = NONE)");
      target.exec("DROP SUBSCRIPTION " + name);
    }
  } catch (const Error&) {  // no such database yet
  }
  auto admin = pg::Connection::open(cluster_url(source_port(), "postgres"), "admin");
  eventually([&] {
    return admin.exec_params("SELECT count(*) FROM pg_replication_slots WHERE database = $1 AND active", {db})
               .int64(0, 0) == 0;
  });
  admin.exec_params("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", {db});
}

// While a cutover runs, the source logs a running-transactions record every 300 ms (a
// CHECKPOINT writes one), as its background writer does every 15 s. Before its fence the
// cutover reads the key slot on until its restart point moves past where it began, which
// takes such a record: waiting for the server's own would make each cutover 10 to 20 s
// longer, with nothing more to check.
class RunningTransactionsRecords {
 public:
  RunningTransactionsRecords() : ticker_([this] { tick(); }) {}
  ~RunningTransactionsRecords() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    ticker_.join();
  }

 private:
  void tick() {
    // The cluster's own database: the fence ends every other session of the source database.
    try {
      auto admin = pg::Connection::open(cluster_url(source_port(), "postgres"), "admin");
      std::unique_lock<std::mutex> lock(mutex_);
      while (!stop_) {
        admin.exec("CHECKPOINT");
        stopped_.wait_for(lock, std::chrono::milliseconds(300), [this] { return stop_; });
      }
    } catch (const std::exception& e) {  // the cutover only waits longer: say why
      std::fprintf(stderr, "running-transactions records stopped: %s\n", e.what());
    }
  }

  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::thread ticker_;  // last: it starts once the rest is in place
};

class FollowFixture : public DatabasePair {
 protected:
  void SetUp() override {
    // The database DatabasePair::SetUp names (suite_test, long names shortened by a hash).
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string db = std::string(info->test_suite_name()) + "_" + info->name();
    std::transform(db.begin(), db.end(), db.begin(), [](unsigned char c) { return std::tolower(c); });
    if (db.size() > 60) db = db.substr(0, 50) + "_" + std::to_string(std::hash<std::string>{}(db) % 1000000000);
    drop_leftover_replication(db);
    DatabasePair::SetUp();
  }

  int64_t latest_run() { return std::stoll(target_value("SELECT max(id) FROM pgblit.runs")); }

  std::string follow_state(int64_t run) {
    return target_value(fmt::format("SELECT state FROM pgblit.follows WHERE run_id = {}", run));
  }

  // The subscription's apply worker runs (the copy is over and the target follows).
  bool apply_worker_running() {
    return eventually([&] {
      // pg_stat_subscription lists every database's subscriptions: only this test's count.
      return target_value("SELECT count(*) FROM pg_stat_subscription st JOIN pg_subscription s ON s.oid = st.subid "
                          "WHERE st.pid IS NOT NULL AND st.relid IS NULL AND s.subdbid = "
                          "(SELECT oid FROM pg_database WHERE datname = current_database())") == "1";
    });
  }

  // The target has applied everything the source wrote so far: the subscription's slot (the
  // key slot is read by the cutover alone) confirmed the source's WAL position taken now.
  bool caught_up() {
    std::string lsn = source_value("SELECT pg_current_wal_lsn()");
    return eventually([&] {
      return source_value(fmt::format("SELECT confirmed_flush_lsn >= '{}' FROM pg_replication_slots WHERE database = "
                                      "current_database() AND slot_name NOT LIKE '%\\_keys'", lsn)) == "t";
    });
  }

  std::string slots() {
    return source_value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()");
  }

  void expect_nothing_left() {
    EXPECT_EQ(slots(), "0");
    EXPECT_EQ(source_value("SELECT count(*) FROM pg_publication"), "0");
    EXPECT_EQ(target_value("SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE "
                           "datname = current_database())"), "0");
  }

  RunResult cutover(int64_t run, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{"cutover", std::to_string(run), "--source", source_url(), "--target", target_url(),
                                  "--run-dir", "/tmp/pgblit-follow-test-runs"};
    args.insert(args.end(), more.begin(), more.end());
    RunResult r;
    {
      RunningTransactionsRecords records;
      r = run_pgblit(args);
    }
    // The fence ended every other session of the source database, this test's own among them.
    source_ = std::make_unique<pg::Connection>(pg::Connection::open(source_url(), "source"));
    return r;
  }

  // Starts a copy --follow and returns its run once the target follows.
  int64_t follow(const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{"--follow", "-j", "2"};
    args.insert(args.end(), more.begin(), more.end());
    auto r = copy(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    int64_t run = latest_run();
    EXPECT_EQ(follow_state(run), "following") << r.output;
    EXPECT_TRUE(apply_worker_running());
    return run;
  }
};

}  // namespace pgblit::test
