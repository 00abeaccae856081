// Property tests of the planner on real tables: over skewed, sparse, composite,
// collated text, uuid, NULL-bearing, keyless and key-scattered tables, the chunks of `pgblit plan` cover
// every row exactly once and are balanced; and a copy through those chunks is exact.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class ChunkingTest : public DatabasePair {
 protected:
  // Plans one table with small chunks and checks the partition properties; returns the method.
  std::string expect_sound_chunks(const std::string& table, size_t min_chunks = 4, const std::string& size = "1MB") {
    auto run = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "-t", table,
                           "--chunk-size", size, "--json", "--log-level", "warn"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    auto plan = nlohmann::json::parse(run.output);
    std::string relation = plan["tables"][0]["source"];
    int64_t total = std::stoll(source_value("SELECT count(*) FROM ONLY " + relation));
    std::vector<int64_t> counts;
    std::vector<std::string> predicates;
    int64_t sum = 0;
    for (const auto& chunk : plan["chunks"]) {
      std::string predicate = chunk["predicate"];
      if (predicate.empty()) predicate = "true";
      predicates.push_back("(" + predicate + ")");
      int64_t n = std::stoll(source_value("SELECT count(*) FROM ONLY " + relation + " WHERE " + predicate));
      sum += n;
      if (!chunk["null_keys"].get<bool>()) counts.push_back(n);
    }
    std::string any;
    for (const auto& p : predicates) any += (any.empty() ? "" : " OR ") + p;
    EXPECT_EQ(sum, total) << table << ": rows counted over all chunks (a row in two chunks, or in none)";
    EXPECT_EQ(std::stoll(source_value("SELECT count(*) FROM ONLY " + relation + " WHERE " + any)), total)
        << table << ": rows in some chunk";
    EXPECT_GE(counts.size(), min_chunks) << table;
    std::sort(counts.begin(), counts.end());
    int64_t median = counts[counts.size() / 2];
    EXPECT_LE(counts.back(), 2 * median) << table << ": largest chunk " << counts.back() << ", median " << median;
    return plan["tables"][0]["chunking"];
  }
};

TEST_F(ChunkingTest, skewed_keys_split_evenly_by_histogram_and_by_sample) {
  // 125k rows (8 MB), 99% of the keys in the first 0.1% of the range. Chunks are small (the
  // least --chunk-size is 64 kB), so chunk counts are those of a big table at a fraction of its rows.
  const char* fill = "SELECT CASE WHEN g <= 123750 THEN g ELSE 123750 + (g - 123750) * 100000 END, md5(g::text) "
                     "FROM generate_series(1, 125000) g";
  both_sql("CREATE TABLE skewed (id bigint PRIMARY KEY, v text); CREATE TABLE skewed_unanalyzed (id bigint PRIMARY KEY, v text) "
           "WITH (autovacuum_enabled = off)");
  source_sql(std::string("INSERT INTO skewed ") + fill);
  // The INSERT's modification count reaches the shared statistics asynchronously (a session
  // flushes its counts at most once a second) and may land after an ANALYZE, making it stale:
  // analyze until the insert is counted (n_tup_ins) and no modification is left since.
  for (int i = 0; i < 200; ++i) {
    source_sql("ANALYZE skewed");
    usleep(50000);
    if (source_value("SELECT pg_stat_clear_snapshot(); SELECT n_tup_ins >= 125000 AND n_mod_since_analyze = 0 "
                     "FROM pg_stat_user_tables WHERE relname = 'skewed'") == "t") {
      break;
    }
  }
  source_sql(std::string("INSERT INTO skewed_unanalyzed ") + fill);
  EXPECT_EQ(expect_sound_chunks("skewed", 10, "512kB"), "histogram");
  EXPECT_EQ(expect_sound_chunks("skewed", 40, "128kB"), "sample");  // too many chunks for the histogram's 100 buckets
  EXPECT_EQ(expect_sound_chunks("skewed_unanalyzed", 10, "512kB"), "sample");
  auto run = copy({"--chunk-size", "512kB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("skewed");
  expect_same_contents("skewed_unanalyzed");
}

TEST_F(ChunkingTest, sparse_composite_text_uuid_null_and_keyless_tables) {
  both_sql(R"sql(
CREATE TABLE sparse (id bigint PRIMARY KEY, v text);
CREATE TABLE tenants (tenant int, id int, v text, PRIMARY KEY (tenant, id));
CREATE TABLE words (w text COLLATE "en-x-icu" PRIMARY KEY, v text);
CREATE TABLE uuids (id uuid PRIMARY KEY, v text);
CREATE TABLE scattered_uuids (id uuid PRIMARY KEY, v text);
CREATE TABLE nullable_key (a int, b text, v text, UNIQUE (a, b));
CREATE TABLE keyless (at timestamptz, v text))sql");
  source_sql(R"sql(
INSERT INTO sparse SELECT g * 7919, md5(g::text) FROM generate_series(1, 15000) g;
INSERT INTO tenants SELECT CASE WHEN g % 10 = 0 THEN g % 3 ELSE 1 END, g, md5(g::text) FROM generate_series(1, 15000) g;
INSERT INTO words SELECT * FROM (
  SELECT CASE g % 3 WHEN 0 THEN upper(md5(g::text)) WHEN 1 THEN md5(g::text) ELSE 'É' || md5(g::text) END AS w,
         md5(g::text) FROM generate_series(1, 15000) g) s ORDER BY w COLLATE "en-x-icu";
INSERT INTO uuids SELECT md5(g::text)::uuid, md5(g::text) FROM generate_series(1, 15000) g ORDER BY 1;
INSERT INTO scattered_uuids SELECT md5(g::text)::uuid, md5(g::text) FROM generate_series(1, 15000) g;
INSERT INTO nullable_key SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE g END, CASE WHEN g % 70 = 0 THEN NULL ELSE md5(g::text) END,
                                md5(g::text) FROM generate_series(1, 15000) g;
INSERT INTO keyless SELECT now(), md5(g::text) FROM generate_series(1, 15000) g;
ANALYZE sparse, words)sql");
  // 15000 rows a table (1.1 MB) in 256 kB chunks: the chunk counts of bigger tables in 1 MB ones.
  for (const char* t : {"sparse", "tenants", "words", "uuids", "nullable_key"}) {
    std::string method = expect_sound_chunks(t, 4, "256kB");
    EXPECT_TRUE(method == "histogram" || method == "sample") << t << ": " << method;
  }
  EXPECT_EQ(expect_sound_chunks("keyless", 4, "256kB"), "ctid");
  // A key in no physical order would make every key range visit most pages: page ranges instead.
  EXPECT_EQ(expect_sound_chunks("scattered_uuids", 4, "256kB").rfind("ctid (rows not in key order", 0), 0u);
  auto run = copy({"--chunk-size", "256kB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (const char* t : {"sparse", "tenants", "words", "uuids", "scattered_uuids", "nullable_key", "keyless"}) {
    expect_same_contents(t);
  }
}

TEST_F(ChunkingTest, a_self_referencing_target_table_stays_whole) {
  both_sql("CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree, v text)");
  source_sql("INSERT INTO tree SELECT g, CASE WHEN g > 1 THEN 60001 - g END, md5(g::text) FROM generate_series(1, 60000) g");
  auto run = copy({"--chunk-size", "1MB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("tree");
}

}  // namespace
}  // namespace pgblit::test
