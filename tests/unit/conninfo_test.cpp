#include <gtest/gtest.h>

#include "pg/conninfo.hpp"

namespace pgblit::pg {
namespace {

TEST(Conninfo, uri_password_is_dropped) {
  std::string shown = redact_conninfo("postgresql://app:s3cret@db1:5433/sales?sslmode=require");
  EXPECT_EQ(shown, "postgresql://app@db1:5433/sales");
  EXPECT_EQ(shown.find("s3cret"), std::string::npos);
}

TEST(Conninfo, key_value_password_is_dropped) {
  std::string shown = redact_conninfo("host=db2 port=6432 dbname=crm user=ops password='p w d'");
  EXPECT_EQ(shown, "postgresql://ops@db2:6432/crm");
}

TEST(Conninfo, unparsable_strings_show_nothing_of_themselves) {
  EXPECT_EQ(redact_conninfo("postgresql://u:topsecret@h:1/d?nonsense=1"), "(unparsable connection string)");
}

TEST(Conninfo, scrub_removes_the_password_wherever_it_appears) {
  EXPECT_EQ(scrub_password("failed for hunter2 at hunter2", "user=x password=hunter2"),
            "failed for ******** at ********");
  EXPECT_EQ(scrub_password("nothing to hide", "user=x"), "nothing to hide");
}

}  // namespace
}  // namespace pgblit::pg
