// Spools on disk: listing them (`pgblit spool ls`) with their size, age, expiry, tables and
// state, and removing the expired ones (`pgblit spool prune`). A folder is a spool when it
// holds a manifest.json; one whose manifest says complete: false is incomplete (its copy did
// not finish: `copy --resume` completes it); one past its expires_at is expired.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pgblit::spool {

struct SpoolEntry {
  std::filesystem::path folder;
  std::string status;  // "complete", "incomplete", "expired", "damaged" (an unreadable manifest)
  std::string id, created_at, expires_at, problem;
  int64_t bytes = 0;   // on disk
  double age_seconds = 0;
  size_t tables = 0, chunks = 0;
  int64_t rows = 0;
};

// `root` itself when it is a spool, else the spools directly inside it.
std::vector<SpoolEntry> list_spools(const std::filesystem::path& root);
// Removes the expired spools under `root` (with `dry_run`, only says which); returns them.
std::vector<SpoolEntry> prune_spools(const std::filesystem::path& root, bool dry_run);
// "90d", "12h", "30m", "45s" → seconds; throws a usage error otherwise.
double parse_duration(const std::string& text);

}  // namespace pgblit::spool
