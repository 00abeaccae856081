#include <gtest/gtest.h>

#include <algorithm>

#include "mover/chunk_scheduler.hpp"

namespace pgblit::mover {
namespace {

plan::Plan plan_of(std::vector<std::vector<size_t>> depends_on, std::vector<size_t> chunk_tables) {
  plan::Plan plan;
  for (auto& d : depends_on) {
    plan::TableCopy t;
    t.depends_on = std::move(d);
    plan.tables.push_back(t);
  }
  for (size_t t : chunk_tables) plan.chunks.push_back({t, "", 1});
  return plan;
}

TEST(ChunkScheduler, a_table_starts_only_after_every_chunk_of_its_dependencies) {
  // table 1 references table 0; table 0 has chunks 0 and 1, table 1 has chunk 2, table 2 is free.
  auto plan = plan_of({{}, {0}, {}}, {0, 0, 1, 2});
  ChunkScheduler s(plan);
  auto ready = s.initially_ready();
  std::sort(ready.begin(), ready.end());
  EXPECT_EQ(ready, (std::vector<size_t>{0, 1, 3}));
  EXPECT_TRUE(s.finished(0).empty());
  EXPECT_TRUE(s.finished(3).empty());
  EXPECT_EQ(s.finished(1), (std::vector<size_t>{2}));
  EXPECT_TRUE(s.table_done(0));
  EXPECT_FALSE(s.table_done(1));
}

TEST(ChunkScheduler, self_references_do_not_block_a_table) {
  auto plan = plan_of({{0}}, {0});
  EXPECT_EQ(ChunkScheduler(plan).initially_ready(), (std::vector<size_t>{0}));
}

}  // namespace
}  // namespace pgblit::mover
