// The one cancellation: a request cancels the statement a watched connection is running, also
// when watches of that connection nest (a retry loop inside a lane's watch) and the inner one
// has ended.
#include <thread>

#include "harness.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::test {
namespace {

class CancellationTest : public DatabasePair {};

TEST_F(CancellationTest, a_request_cancels_a_connection_still_watched_by_an_outer_watch) {
  auto conn = pg::Connection::open(source_url(), "source");
  std::string marker = "pgblit_cancellation_test_" + db_;
  pg::Cancellation cancellation;
  pg::Cancellation::Watch outer(cancellation, conn);
  { pg::Cancellation::Watch inner(cancellation, conn); }
  std::thread requester([&] {
    eventually([&] {
      return source_value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%" + marker + "%' AND pid <> pg_backend_pid()") == "1";
    });
    cancellation.request("the test asked");
  });
  std::string error;
  try {
    conn.exec("SELECT pg_sleep(60) AS " + marker);
  } catch (const Error& e) {
    error = e.what();
  }
  requester.join();
  EXPECT_NE(error.find("cancel"), std::string::npos) << "the statement ran to its end: " << error;
}

}  // namespace
}  // namespace pgblit::test
