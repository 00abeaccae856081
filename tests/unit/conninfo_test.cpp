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

TEST(Conninfo, without_password_keeps_every_other_setting_as_key_value_pairs) {
  EXPECT_EQ(without_password("postgresql://app:s3cret@db1:5433/sales?sslmode=require&sslpassword=k3y"),
            "user='app' dbname='sales' host='db1' port='5433' sslmode='require'");
  EXPECT_EQ(without_password("host=db2 dbname='it\\'s' password='p w d'"), "dbname='it\\'s' host='db2'");
  EXPECT_EQ(without_password("postgresql://u:topsecret@h:1/d?nonsense=1"), "");
}

}  // namespace
}  // namespace pgblit::pg
