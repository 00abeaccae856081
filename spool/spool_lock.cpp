// See spool_lock.hpp.
#include "spool/spool_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace pgblit::spool {
namespace {

// The lock file, opened (created owner-only when missing; read-only where that is all we may);
// -1 with errno on failure.
int open_lock(const std::filesystem::path& folder) {
  int fd = ::open((folder / kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  return fd >= 0 ? fd : ::open((folder / kLockFile).c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace

SpoolLock& SpoolLock::operator=(SpoolLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

SpoolLock::~SpoolLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

SpoolLock SpoolLock::for_writing(const std::filesystem::path& folder) {
  int fd = open_lock(folder);
  if (fd < 0) {
    throw usage_error(fmt::format("cannot lock the spool folder {}: {}", folder.string(), std::strerror(errno)),
                      folder.string(), "choose a writable folder with --spool; nothing was written");
  }
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    ::close(fd);
    throw usage_error(fmt::format("the spool folder {} is being removed (pgblit spool prune holds it)", folder.string()),
                      folder.string(), "choose another folder, or wait for the prune to end");
  }
  return SpoolLock(fd);
}

std::optional<SpoolLock> SpoolLock::for_removing(const std::filesystem::path& folder) {
  int fd = open_lock(folder);
  if (fd < 0) return std::nullopt;  // cannot tell: left alone
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  return SpoolLock(fd);
}

}  // namespace pgblit::spool
