#include <gtest/gtest.h>

#include "plan/dependencies.hpp"

namespace pgblit::plan {
namespace {

TEST(Dependencies, a_chain_and_a_diamond_have_no_cycle) {
  EXPECT_TRUE(find_dependency_cycle({{}, {0}, {1}}).empty());
  EXPECT_TRUE(find_dependency_cycle({{}, {0}, {0}, {1, 2}}).empty());
}

TEST(Dependencies, a_cycle_is_returned_closed) {
  auto cycle = find_dependency_cycle({{}, {2}, {3}, {1}});
  ASSERT_EQ(cycle.size(), 4u);
  EXPECT_EQ(cycle.front(), cycle.back());
}

TEST(Dependencies, two_tables_referencing_each_other) {
  EXPECT_EQ(find_dependency_cycle({{1}, {0}}), (std::vector<size_t>{0, 1, 0}));
}

}  // namespace
}  // namespace pgblit::plan
