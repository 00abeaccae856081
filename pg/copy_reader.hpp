// Reading a COPY TO STDOUT stream row by row, with few wake-ups.
//
// A server sends its COPY stream in 8 kB pieces. A blocking PQgetCopyData sleeps in poll()
// and wakes for nearly every piece, and those wake-ups (a context switch here, a wake-up
// call on the sender's side) cost more CPU than the bytes themselves. Once a stream has
// proved long, the reader asks the kernel (SO_RCVLOWAT) to wake it only when a batch of
// bytes has arrived, and polls with a short timeout, so the stream's tail, shorter than a
// batch, waits at most a few milliseconds. Encrypted connections, whose bytes may wait
// inside the TLS library rather than the socket, are read the plain blocking way.
#pragma once

#include <libpq-fe.h>

#include <cstdint>

namespace pgblit::pg {

class CopyOutReader {
 public:
  explicit CopyOutReader(PGconn* conn);
  ~CopyOutReader();  // the socket's low-water mark back to one byte
  CopyOutReader(const CopyOutReader&) = delete;
  CopyOutReader& operator=(const CopyOutReader&) = delete;

  // As PQgetCopyData: the next row's length (the caller frees *row with PQfreemem), -1 at the
  // end of the stream, -2 on failure (the error comes with the command's result). After -1 or
  // -2 the socket is back to normal, ready for the command's result.
  int next(char** row);
  // The socket back to normal before a stream is abandoned mid-way (a cancelled COPY's last
  // messages are shorter than a batch: with the low-water mark still up, nothing would wake).
  void abandon() { stop_batching(); }

 private:
  int take(char** row);
  void start_batching();
  void stop_batching();

  PGconn* conn_;
  bool batchable_ = false;  // a plain TCP socket
  bool batching_ = false;
  int64_t bytes_ = 0;
};

}  // namespace pgblit::pg
