// See table_finisher.hpp.
#include "mover/table_finisher.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "verify/copy_digest.hpp"
#include "pg/session.hpp"

namespace pgblit::mover {

TableFinisher::TableFinisher(const plan::Plan& plan, const std::vector<bool>& done, FinisherOptions options,
                             pg::Cancellation& cancellation)
    : plan_(plan), options_(std::move(options)), link_(cancellation, stop_) {
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    auto& progress = progress_[plan.tables[plan.chunks[c].table].target];
    if (c < done.size() && done[c]) {
      progress.loaded_before = true;
    } else {
      ++progress.chunks_left;
    }
  }
  worker_ = std::make_unique<WorkerPool>(1);
  worker_->run([this] { serve(); });
}

TableFinisher::~TableFinisher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  stop_.request("the run ended");
  changed_.notify_all();
  worker_.reset();  // waits for it to return
}

void TableFinisher::chunk_finished(const ChunkOutcome& outcome) {
  if (outcome.error || outcome.skipped) return;
  size_t t = plan_.chunks[outcome.chunk].table;
  const auto& table = plan_.tables[t];
  auto& progress = progress_[table.target];
  progress.formats.insert(outcome.format);
  if (--progress.chunks_left != 0 || progress.loaded_before) return;
  Work work{table.target, t, std::nullopt};
  // Tables verified chunk by chunk were read back in the lanes; a mix of formats cannot be
  // compared whole (the end of the run says so).
  if (options_.verify && !table.verify_by_chunk && progress.formats.size() == 1 &&
      !options_.unverified.count(table.target)) {
    work.read_as = *progress.formats.begin();
  }
  if (!work.read_as && !options_.analyze) return;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(work));
  }
  changed_.notify_all();
}

TableFinisher::Results TableFinisher::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
  return results_;
}

void TableFinisher::serve() {
  std::optional<pg::Connection> session;  // opened on the first table, kept for the others
  for (;;) {
    Work work;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      work = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    finish_table(work, session);
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    changed_.notify_all();
  }
}

void TableFinisher::finish_table(const Work& work, std::optional<pg::Connection>& session) {
  if (stop_.requested()) return;
  try {
    if (!session || !session->alive()) session.emplace(pg::open_session(options_.target, "target"));
    if (work.read_as) {
      auto started = std::chrono::steady_clock::now();
      auto digest = verify::digest_whole_tables(*session, verify::Side::Target, options_.target, "", options_.jobs,
                                        {{&plan_.tables[work.table], *work.read_as}}, stop_)[0];
      spdlog::debug("read {} back for verification in {:.2f} s", work.target_table,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      std::lock_guard lock(mutex_);
      results_.read[work.target_table] = {*work.read_as, digest};
    }
    if (options_.analyze) {
      session->exec("ANALYZE " + work.target_table, work.target_table);
      std::lock_guard lock(mutex_);
      results_.analyzed.insert(work.target_table);
    }
  } catch (const Error& e) {
    // The end of the run does what is missing, and reports what still fails then.
    if (!stop_.requested()) spdlog::debug("{}: left for the end of the run: {}", work.target_table, e.what());
  }
}

}  // namespace pgblit::mover
