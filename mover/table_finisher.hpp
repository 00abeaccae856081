// Finishing target tables while the copy goes on.
//
// Once every chunk loading into a target table is in, that table's whole-table verification
// read (for tables not verified chunk by chunk) and its ANALYZE run on a worker of their own,
// beside the lanes still copying other tables; the end of the run then waits only for the
// tables that finished last. This is an optimization, not a second path to a verdict: the run
// compares digests at its end as before, and a table this could not finish (a failure, a chunk
// loaded by another worker or an earlier process) is read there.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/worker_pool.hpp"
#include "pg/cancellation.hpp"
#include "mover/lane.hpp"
#include "verify/ledger.hpp"
#include "plan/plan.hpp"

namespace pgblit::mover {

struct FinisherOptions {
  std::string target;  // connection string
  int jobs = 1;        // sessions a large table's verification read is split over
  bool verify = true;
  bool analyze = true;
  std::set<std::string> unverified;  // target tables that cannot match (held rows before an append)
};

class TableFinisher {
 public:
  // `done[c]`: chunk c was loaded before this process began (its table is left to the end).
  TableFinisher(const plan::Plan& plan, const std::vector<bool>& done, FinisherOptions options,
                pg::Cancellation& cancellation);
  ~TableFinisher();  // drops what is queued and cancels what is in hand
  TableFinisher(const TableFinisher&) = delete;
  TableFinisher& operator=(const TableFinisher&) = delete;

  // Called for every chunk outcome (from one thread): the last chunk of a target table queues it.
  void chunk_finished(const ChunkOutcome& outcome);

  struct Results {
    verify::TableDigests read;       // verification reads done, by target table
    std::set<std::string> analyzed;  // target tables analyzed
  };
  // Waits until everything queued is done.
  Results wait();

 private:
  struct Work {
    std::string target_table;
    size_t table = 0;                               // a source table loading into it
    std::optional<plan::CopyFormat> read_as; // read it back in this form, or not at all
  };
  void serve();
  void finish_table(const Work& work, std::optional<pg::Connection>& session);

  const plan::Plan& plan_;
  FinisherOptions options_;
  pg::Cancellation stop_;  // the run's cancellation, or the finisher's own end
  pg::Cancellation::Link link_;
  struct Progress {
    size_t chunks_left = 0;
    bool loaded_before = false;                      // some chunk was done before this process
    std::set<plan::CopyFormat> formats;       // as its chunks travelled
  };
  std::map<std::string, Progress> progress_;  // by target table; touched by chunk_finished() only

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Work> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  Results results_;
  std::unique_ptr<WorkerPool> worker_;  // one, serving the queue; last: it uses everything above
};

}  // namespace pgblit::mover
