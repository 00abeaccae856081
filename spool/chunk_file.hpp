// A spool's chunk file: one chunk's COPY stream exactly as the source sent it (decompressed,
// `zstd -dc FILE | psql -c "\copy t (cols) from stdin binary"` loads it by hand), compressed
// as one zstd frame with its content checksum, so a corrupt or truncated file is detected.
//
// The writer compresses with libzstd's streaming API, on its worker threads when `workers`
// > 0 (the COPY goes on while they compress), and writes through a DurableFile: the chunk's
// file appears whole, after an fsync, or not at all. A full disk throws, naming the file.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/durable_file.hpp"

namespace pgblit::spool {

class ChunkFileWriter {
 public:
  ChunkFileWriter(const std::filesystem::path& path, int level, int workers);
  ~ChunkFileWriter();
  ChunkFileWriter(const ChunkFileWriter&) = delete;
  ChunkFileWriter& operator=(const ChunkFileWriter&) = delete;

  void write(std::span<const char> bytes);
  // Ends the frame and makes the file durable; returns its size.
  int64_t finish();
  int64_t raw_bytes() const { return raw_bytes_; }

 private:
  void compress(std::span<const char> bytes, ZSTD_EndDirective mode);

  DurableFile file_;
  ZSTD_CCtx* cctx_;
  std::vector<char> out_;
  int64_t raw_bytes_ = 0;
};

// Compressed size over raw size of `sample` at `level` (1 for an empty sample).
double compression_ratio(std::span<const char> sample, int level);

class ChunkFileReader {
 public:
  explicit ChunkFileReader(const std::filesystem::path& path);
  ~ChunkFileReader();
  ChunkFileReader(const ChunkFileReader&) = delete;
  ChunkFileReader& operator=(const ChunkFileReader&) = delete;

  // The next decompressed piece, valid until the next call; empty at the end. Throws
  // pgblit::Error naming the file when it is corrupt or truncated.
  std::span<const char> next();

 private:
  Error corrupt(const std::string& why) const;

  std::filesystem::path path_;
  int fd_ = -1;
  ZSTD_DCtx* dctx_;
  std::vector<char> in_, out_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  size_t frame_left_ = 1;  // 0 once a whole frame was decoded
  bool eof_ = false;
};

}  // namespace pgblit::spool
