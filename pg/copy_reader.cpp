// See copy_reader.hpp.
#include "pg/copy_reader.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace pgblit::pg {
namespace {

constexpr int64_t kLongStream = 1 << 20;  // bytes read before batching starts
constexpr int kBatchBytes = 128 << 10;    // wake the reader when this much has arrived
constexpr int kTailWaitMs = 2;            // or after this long

bool is_tcp(int socket) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  return getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
         (address.ss_family == AF_INET || address.ss_family == AF_INET6);
}

}  // namespace

CopyOutReader::CopyOutReader(PGconn* conn)
    : conn_(conn), batchable_(!PQsslInUse(conn) && !PQgssEncInUse(conn) && is_tcp(PQsocket(conn))) {}

CopyOutReader::~CopyOutReader() { stop_batching(); }

// Before libpq waits on the socket again (for the command's result): it would wait for a batch.
void CopyOutReader::stop_batching() {
  if (!batching_) return;
  int one = 1;
  setsockopt(PQsocket(conn_), SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  batching_ = false;
  batchable_ = false;
}

void CopyOutReader::start_batching() {
  int batch = kBatchBytes;
  batching_ = setsockopt(PQsocket(conn_), SOL_SOCKET, SO_RCVLOWAT, &batch, sizeof batch) == 0;
  if (!batching_) batchable_ = false;
}

// A complete row from libpq's buffer, or 0 when it holds none.
int CopyOutReader::take(char** row) {
  int n = PQgetCopyData(conn_, row, 1);
  if (n > 0) {
    bytes_ += n;
    if (!batching_ && bytes_ >= kLongStream) start_batching();
  }
  if (n < 0) stop_batching();
  return n;
}

int CopyOutReader::next(char** row) {
  if (!batchable_) return PQgetCopyData(conn_, row, 0);
  auto failed = [this] {
    stop_batching();
    return -2;
  };
  for (;;) {
    if (int n = take(row)) return n;
    if (!PQconsumeInput(conn_)) return failed();  // what has arrived already
    if (int n = take(row)) return n;
    // Nothing complete yet: sleep until a batch has arrived (or the tail's timeout).
    pollfd socket{PQsocket(conn_), POLLIN, 0};
    if (poll(&socket, 1, batching_ ? kTailWaitMs : -1) < 0 && errno != EINTR) return failed();
    if (!PQconsumeInput(conn_)) return failed();
  }
}

}  // namespace pgblit::pg
