// Rows the target rejects (a constraint, an encoding, a value too long): with
// --max-rejects N they are set aside, each written with the server's reason to a rejects
// file of its chunk, and the rest of the chunk is loaded. The file is written durably (to a
// temporary name, fsynced, renamed) before the chunk's transaction commits, so a committed
// chunk's rejects always exist; a retry or a resume of the chunk writes the same file again.
//
// Row isolation: the chunk is read again from the source as text (so the rejects file is
// readable, and can be loaded with COPY FROM once fixed) and loaded in batches, each under a
// SAVEPOINT inside the chunk's one transaction. A batch the target refuses is rolled back to
// its savepoint; the row the error names (COPY's "line N") is set aside and the batch tried
// again without it; an error that names no line (a check at the end of the statement) splits
// the batch in halves until the row is alone. So a chunk still commits once, with exactly the
// rows the target accepted, and the digest covers exactly those rows.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "checksums/copy_framer.hpp"
#include "pg/cancellation.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::mover {

// What all lanes of a process share: the budget of rejects and the files they go to.
class RejectSink {
 public:
  RejectSink(std::filesystem::path directory, int64_t max_rejects);
  // Takes one reject from the budget; false when the budget is spent.
  bool take_one();
  // Writes a chunk's rejected rows (text lines) with their reasons, durably, replacing any
  // file an earlier attempt at the chunk left. Throws when it cannot (the chunk must not commit).
  void write(const std::string& table, size_t chunk, const std::vector<std::pair<std::string, std::string>>& rows);
  int64_t rejected() const { return max_ - remaining_.load(); }
  int64_t max() const { return max_; }
  const std::filesystem::path& directory() const { return directory_; }
  std::filesystem::path file_of(const std::string& table, size_t chunk) const;

 private:
  std::filesystem::path directory_;
  int64_t max_;
  std::atomic<int64_t> remaining_;
};

struct IsolatedLoad {
  int64_t rows = 0;   // loaded
  int64_t bytes = 0;  // of loaded rows, as text
  checksums::ChunkDigest digest;  // of loaded rows
  std::vector<std::pair<std::string, std::string>> rejected;  // (row as a text line, reason)
};

// Inside the caller's open target transaction: streams `copy_out_sql` (text format) from the
// source and loads it into `table` in savepointed batches, setting rejected rows aside.
IsolatedLoad load_isolating_rejects(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                                    const plan::TableCopy& table, RejectSink& sink, pg::Cancellation& cancellation);

}  // namespace pgblit::mover
