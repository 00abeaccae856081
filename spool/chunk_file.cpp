// See chunk_file.hpp.
#include "spool/chunk_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace pgblit::spool {
namespace {

constexpr const char* kDiskHint =
    "free space on the spool's filesystem (or point --spool elsewhere), then continue with --resume: "
    "the chunk was not committed";

}  // namespace

ChunkFileWriter::ChunkFileWriter(const std::filesystem::path& path, int level, int workers)
    : file_(path, "spool file", kDiskHint), cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  // Without libzstd's multi-threading this fails and compression runs in the caller: still correct.
  if (workers > 0) ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, workers);
}

ChunkFileWriter::~ChunkFileWriter() { ZSTD_freeCCtx(cctx_); }

void ChunkFileWriter::compress(std::span<const char> bytes, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
    if (ZSTD_isError(left)) {
      throw Error(ErrorKind::Runtime, fmt::format("compressing a spool file: {}", ZSTD_getErrorName(left)));
    }
    file_.write({out_.data(), out.pos});
    bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
    if (done) return;
  }
}

void ChunkFileWriter::write(std::span<const char> bytes) {
  raw_bytes_ += static_cast<int64_t>(bytes.size());
  compress(bytes, ZSTD_e_continue);
}

int64_t ChunkFileWriter::finish() {
  compress({}, ZSTD_e_end);
  file_.commit();
  return file_.bytes();
}

double compression_ratio(std::span<const char> sample, int level) {
  if (sample.empty()) return 1;
  std::vector<char> out(ZSTD_compressBound(sample.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), sample.data(), sample.size(), level);
  return ZSTD_isError(n) ? 1 : static_cast<double>(n) / static_cast<double>(sample.size());
}

ChunkFileReader::ChunkFileReader(const std::filesystem::path& path)
    : path_(path), dctx_(ZSTD_createDCtx()), in_(ZSTD_DStreamInSize()), out_(ZSTD_DStreamOutSize()) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    throw Error(ErrorKind::Runtime, fmt::format("cannot open the spool file {}: {}", path.string(), std::strerror(errno)),
                path.string(), "is the spool complete? `pgblit spool ls` shows its state");
  }
}

ChunkFileReader::~ChunkFileReader() {
  if (fd_ >= 0) ::close(fd_);
  ZSTD_freeDCtx(dctx_);
}

Error ChunkFileReader::corrupt(const std::string& why) const {
  return Error(ErrorKind::Runtime, fmt::format("the spool file {} is damaged: {}", path_.string(), why), path_.string(),
               "nothing of this chunk was committed; restore it from another copy of the spool, or copy it again");
}

std::span<const char> ChunkFileReader::next() {
  for (;;) {
    if (input_.pos == input_.size && !eof_) {
      ssize_t n = ::read(fd_, in_.data(), in_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw corrupt(std::strerror(errno));
      eof_ = n == 0;
      input_ = {in_.data(), static_cast<size_t>(n), 0};
    }
    if (input_.pos == input_.size && eof_) {
      if (frame_left_ != 0) throw corrupt("it ends before its last block (truncated)");
      return {};
    }
    if (frame_left_ == 0) throw corrupt("bytes after its end");
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    frame_left_ = ZSTD_decompressStream(dctx_, &out, &input_);
    if (ZSTD_isError(frame_left_)) throw corrupt(ZSTD_getErrorName(frame_left_));
    if (out.pos > 0) return {out_.data(), out.pos};
  }
}

}  // namespace pgblit::spool
