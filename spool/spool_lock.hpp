// Who is writing a spool. Every process that writes one (copy --spool and the workers that
// join its run, backup, and their resumes) holds a shared flock(2) on DIR/.pgblit-lock for as
// long as it lives; the kernel releases it when the process ends, however it ends (SIGKILL
// included), so a stale lock cannot outlive its writer. `spool prune` takes it exclusively,
// without waiting, before it removes anything: it never removes a spool being written, and a
// writer never starts on a spool that is being removed. (flock is local to one host: a spool
// on a network filesystem written from another host is not seen as in use.)
#pragma once

#include <filesystem>
#include <optional>

namespace pgblit::spool {

class SpoolLock {
 public:
  // Held while writing into `folder` (which exists); throws a usage error while a prune holds it.
  static SpoolLock for_writing(const std::filesystem::path& folder);
  // Held while removing `folder`; nullopt while a writer holds it (or its lock file cannot be opened).
  static std::optional<SpoolLock> for_removing(const std::filesystem::path& folder);

  SpoolLock() = default;
  SpoolLock(SpoolLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SpoolLock& operator=(SpoolLock&& other) noexcept;
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;
  ~SpoolLock();

 private:
  explicit SpoolLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The lock file's name inside a spool folder.
inline constexpr const char* kLockFile = ".pgblit-lock";

}  // namespace pgblit::spool
