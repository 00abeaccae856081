// Spools on disk: listing them (`pgblit spool ls`) with their size, age, expiry, tables and
// state, and removing the expired ones (`pgblit spool prune`). A folder is a spool when it
// holds a manifest.json; one whose manifest says complete: false is incomplete (its copy did
// not finish: `copy --resume` completes it); one past its expires_at is expired; a complete
// one with a chunk file missing or of another size than its manifest says is damaged.
// Prune never removes a spool a live process is writing (spool_lock.hpp) nor an incomplete
// one (its run may still be resumed), and removes a symlinked spool's real folder with the link.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pgblit::spool {

struct SpoolEntry {
  std::filesystem::path folder;
  std::string status;  // "complete", "incomplete", "expired", "damaged" (an unreadable manifest,
                       // a chunk file missing or cut short)
  std::string id, created_at, expires_at, problem;
  int64_t bytes = 0;   // on disk
  double age_seconds = 0;
  size_t tables = 0, chunks = 0;
  int64_t rows = 0;
  bool complete = false;  // its manifest says so
  int64_t run_id = 0;     // the copy run that writes it (0: a backup)
};

// `root` itself when it is a spool, else the spools directly inside it.
std::vector<SpoolEntry> list_spools(const std::filesystem::path& root);
struct PruneResult {
  std::vector<SpoolEntry> removed;  // (with dry_run: would be)
  std::vector<SpoolEntry> skipped;  // expired but kept; `problem` says why
};
// Removes the expired spools under `root` (with `dry_run`, only says which).
PruneResult prune_spools(const std::filesystem::path& root, bool dry_run);
// "90d", "12h", "30m", "45s" → seconds; throws a usage error otherwise.
double parse_duration(const std::string& text);

}  // namespace pgblit::spool
