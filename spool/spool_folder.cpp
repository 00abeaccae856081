// See spool_folder.hpp.
#include "spool/spool_folder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "core/error.hpp"
#include "spool/manifest.hpp"
#include "spool/spool_lock.hpp"

namespace pgblit::spool {
namespace {

// Seconds since the epoch of "2026-11-23T12:00:00Z"; 0 when empty or unreadable.
double epoch_of(const std::string& utc) {
  std::tm tm{};
  if (utc.empty() || !strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return static_cast<double>(timegm(&tm));
}

double now_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t size_on_disk(const std::filesystem::path& folder) {
  int64_t bytes = 0;
  std::error_code error;
  for (const auto& f : std::filesystem::recursive_directory_iterator(folder, error)) {
    if (f.is_regular_file(error)) bytes += static_cast<int64_t>(f.file_size(error));
  }
  return bytes;
}

// What is wrong with a complete spool's chunk files ("" when each is there, whole in size).
std::string missing_chunk_file(const std::filesystem::path& folder, const Manifest& m) {
  for (const auto& c : m.chunks) {
    std::error_code error;
    auto size = std::filesystem::file_size(folder / c.file, error);
    if (error) return fmt::format("chunk {}'s file {} is missing", c.index, (folder / c.file).string());
    if (static_cast<int64_t>(size) != c.compressed_bytes) {
      return fmt::format("chunk {}'s file {} is {} bytes, its manifest says {}", c.index, (folder / c.file).string(),
                         size, c.compressed_bytes);
    }
  }
  return "";
}

// Removes a spool folder, the manifest first (a prune cut short leaves a folder no one takes
// for a spool). A symlink, to the spool or to its data/, is followed: the real folder goes with
// the link, so no chunk file is left behind unreachable.
void remove_spool(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  fs::path real = fs::is_symlink(folder) ? fs::canonical(folder) : folder;
  fs::remove(real / "manifest.json");
  if (fs::is_symlink(real / "data")) fs::remove_all(fs::canonical(real / "data"));
  fs::remove_all(real);
  if (real != folder) fs::remove(folder);
}

SpoolEntry describe(const std::filesystem::path& folder) {
  SpoolEntry e;
  e.folder = folder;
  e.bytes = size_on_disk(folder);
  try {
    auto m = read_manifest(folder);
    e.id = m.id;
    e.created_at = m.created_at;
    e.expires_at = m.expires_at;
    e.tables = m.tables.size();
    e.chunks = m.chunks.size();
    for (const auto& c : m.chunks) e.rows += std::max<int64_t>(c.rows, 0);  // planned chunks: -1
    e.age_seconds = now_epoch() - epoch_of(m.created_at);
    double expires = epoch_of(m.expires_at);
    e.status = expires > 0 && expires <= now_epoch() ? "expired" : m.complete ? "complete" : "incomplete";
    e.complete = m.complete;
    e.run_id = m.run_id;
    if (m.complete) e.problem = missing_chunk_file(folder, m);
    if (!e.problem.empty() && e.status != "expired") e.status = "damaged";  // expired: still pruned
  } catch (const Error& error) {
    e.status = "damaged";
    e.problem = error.what();
  }
  return e;
}

}  // namespace

std::vector<SpoolEntry> list_spools(const std::filesystem::path& root) {
  if (!std::filesystem::is_directory(root)) {
    throw usage_error(fmt::format("{} is not a folder", root.string()), root.string(), "give a spool folder or one holding spools");
  }
  if (std::filesystem::exists(root / "manifest.json")) return {describe(root)};
  std::vector<SpoolEntry> out;
  for (const auto& f : std::filesystem::directory_iterator(root)) {
    if (f.is_directory() && std::filesystem::exists(f.path() / "manifest.json")) out.push_back(describe(f.path()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
  return out;
}

PruneResult prune_spools(const std::filesystem::path& root, bool dry_run) {
  PruneResult out;
  for (auto& e : list_spools(root)) {
    if (e.status != "expired") continue;
    // Held until the folder is gone: no writer can start on it meanwhile.
    auto lock = SpoolLock::for_removing(e.folder);
    if (!lock) {
      e.problem = "a running copy or backup is writing it (it holds " + (e.folder / kLockFile).string() + ")";
      out.skipped.push_back(std::move(e));
      continue;
    }
    if (!e.complete) {
      e.problem = e.run_id ? fmt::format("incomplete: pgblit copy --resume {} may still complete it", e.run_id)
                           : "incomplete: pgblit backup --resume may still complete it";
      out.skipped.push_back(std::move(e));
      continue;
    }
    if (!dry_run) remove_spool(e.folder);
    out.removed.push_back(std::move(e));
  }
  return out;
}

double parse_duration(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = unit == "d" ? 86400 : unit == "h" ? 3600 : unit == "m" ? 60 : unit == "s" ? 1 : 0;
  if (used == 0 || scale == 0 || value <= 0) {
    throw usage_error(fmt::format("--keep {}: not a duration", text), "--keep", "write it as 90d, 12h, 30m or 45s");
  }
  return value * scale;
}

}  // namespace pgblit::spool
