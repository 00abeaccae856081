// The spool's files without a server: a manifest survives its round trip field for field and
// a damaged one is refused naming the field; a chunk file reads back byte for byte, and a
// truncated or corrupted one is refused naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "spool/chunk_file.hpp"
#include "spool/manifest.hpp"

namespace pgblit::spool {
namespace {

namespace fs = std::filesystem;

class SpoolFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("pgblit-unit-spool-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_ / "data");
  }
  void TearDown() override { fs::remove_all(folder_); }

  static Manifest sample() {
    Manifest m;
    m.id = "spool-1";
    m.complete = true;
    m.snapshot = "00000003-0000001B-1";
    m.run_id = 7;
    m.level = 9;
    SpoolTable t;
    t.source = R"("app"."odd ""name""")";
    t.target = R"("app"."t")";
    t.columns = {"id", "v"};
    t.types = {"bigint", "text"};
    t.format = "binary";
    t.key = {"id"};
    t.key_fields = {0};
    m.tables.push_back(t);
    SpoolChunk c;
    c.index = 0;
    c.file = chunk_file_name(0);
    c.rows = 3;
    c.raw_bytes = 100;
    c.compressed_bytes = 40;
    c.format = "binary";
    c.digest = {3, 0xabcdef, 0x1234};
    c.upper = {"1000"};
    m.chunks.push_back(c);
    m.sequences = {{R"("app"."t_id_seq")", "42"}, {R"("app"."unused_seq")", ""}};
    return m;
  }

  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path folder_;
};

TEST_F(SpoolFilesTest, a_manifest_reads_back_as_it_was_written) {
  write_manifest(folder_, sample());
  auto back = read_manifest(folder_);
  EXPECT_EQ(to_json(back), to_json(sample()));
  EXPECT_EQ(back.tables[0].source, R"("app"."odd ""name""")");
  EXPECT_EQ(back.chunks[0].digest, (checksums::ChunkDigest{3, 0xabcdef, 0x1234}));
  EXPECT_EQ(back.sequences[1].second, "");
  EXPECT_EQ(fs::status(folder_ / "manifest.json").permissions() & fs::perms::group_all, fs::perms::none);
}

TEST_F(SpoolFilesTest, a_damaged_manifest_is_refused_naming_the_field) {
  auto json = to_json(sample());
  auto damaged = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = json;
    edit(j);
    std::ofstream(folder_ / "manifest.json") << j.dump();
    return error_of([&] { read_manifest(folder_); });
  };
  EXPECT_NE(damaged([](auto& j) { j["tables"][0]["source"] = "app.t; DROP TABLE x"; }).find("tables[0].source"),
            std::string::npos);
  EXPECT_NE(damaged([](auto& j) { j["chunks"][0]["index"] = 5; }).find("chunks[0].index"), std::string::npos);
  EXPECT_NE(damaged([](auto& j) { j["chunks"][0]["file"] = "../../etc/passwd"; }).find("chunks[0].file"),
            std::string::npos);
  EXPECT_NE(damaged([](auto& j) { j["tables"][0]["key_fields"] = {7}; }).find("key_fields"), std::string::npos);
  EXPECT_NE(damaged([](auto& j) { j.erase("complete"); }).find("complete is missing"), std::string::npos);
  EXPECT_NE(damaged([](auto& j) { j["version"] = kManifestVersion + 1; }).find("newer than this pgblit"),
            std::string::npos);
  std::ofstream(folder_ / "manifest.json") << "{ not json";
  EXPECT_NE(error_of([&] { read_manifest(folder_); }).find("is not JSON"), std::string::npos);
  fs::remove(folder_ / "manifest.json");
  EXPECT_FALSE(try_read_manifest(folder_).has_value());
  EXPECT_NE(error_of([&] { read_manifest(folder_); }).find("has no manifest"), std::string::npos);
}

TEST_F(SpoolFilesTest, qualified_names_split_only_when_they_are_two_quoted_identifiers) {
  EXPECT_EQ(split_qualified_name(R"("a"."b")"), (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_EQ(split_qualified_name(R"("a ""x"""."b.c")"), (std::pair<std::string, std::string>{"a \"x\"", "b.c"}));
  for (const char* bad : {"a.b", R"("a")", R"("a"."b"."c")", R"("a".b)", R"("a"."")", R"("a"."b)"}) {
    EXPECT_FALSE(split_qualified_name(bad).has_value()) << bad;
  }
}

TEST_F(SpoolFilesTest, a_chunk_file_reads_back_byte_for_byte_and_damage_is_named) {
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += std::to_string(i * 7919 % 100003) + (i % 13 ? "," : "\n");
  auto path = folder_ / chunk_file_name(0);
  int64_t compressed = 0;
  {
    ChunkFileWriter writer(path, 3, 2);
    for (size_t at = 0; at < bytes.size(); at += 65536) writer.write({bytes.data() + at, std::min<size_t>(65536, bytes.size() - at)});
    compressed = writer.finish();
    EXPECT_EQ(writer.raw_bytes(), static_cast<int64_t>(bytes.size()));
  }
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), compressed);
  EXPECT_LT(compressed, static_cast<int64_t>(bytes.size()) / 2);
  auto read_all = [&] {
    ChunkFileReader reader(path);
    std::string out;
    for (auto piece = reader.next(); !piece.empty(); piece = reader.next()) out.append(piece.data(), piece.size());
    return out;
  };
  EXPECT_EQ(read_all(), bytes);

  std::string whole;
  {
    std::ifstream in(path, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() / 2);
  EXPECT_NE(error_of([&] { read_all(); }).find(path.string()), std::string::npos) << "truncated";
  std::string flipped = whole;
  flipped[flipped.size() / 2] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  EXPECT_NE(error_of([&] { read_all(); }).find(path.string()), std::string::npos) << "corrupted";
}

TEST_F(SpoolFilesTest, an_unfinished_chunk_file_never_appears_under_its_name) {
  auto path = folder_ / chunk_file_name(1);
  {
    ChunkFileWriter writer(path, 3, 0);
    writer.write(std::string_view("half a chunk"));
  }  // destroyed without finish(): a failed or cancelled chunk
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(folder_ / "data"));
}

}  // namespace
}  // namespace pgblit::spool
