// See rejects.hpp.
#include "mover/rejects.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <regex>

#include "core/durable_file.hpp"
#include "pg/copy.hpp"
#include "verify/copy_digest.hpp"
#include "plan/copy_sql.hpp"

namespace pgblit::mover {
namespace {

constexpr size_t kBatchRows = 5000;

struct Row {
  std::string line;  // without its newline
};

class BatchLoader {
 public:
  BatchLoader(pg::Connection& target, const plan::TableCopy& table, RejectSink& sink, IsolatedLoad& load)
      : target_(target), table_(table), sink_(sink), load_(load),
        digester_(checksums::StreamFormat::Text, table.key_fields) {}

  // Loads `rows`, setting aside the ones the target refuses.
  void load(std::vector<const Row*> rows) {
    while (!rows.empty()) {
      target_.exec("SAVEPOINT pgblit_batch", table_.target);
      auto failure = try_copy(rows);
      if (!failure) {
        target_.exec("RELEASE SAVEPOINT pgblit_batch", table_.target);
        for (const Row* r : rows) accept(*r);
        return;
      }
      target_.exec("ROLLBACK TO SAVEPOINT pgblit_batch", table_.target);
      target_.exec("RELEASE SAVEPOINT pgblit_batch", table_.target);
      if (!failure->rejects_row()) throw *failure;
      size_t bad = failing_line(*failure, rows.size());
      if (bad == rows.size()) {  // no line named: halve until the row is alone
        if (rows.size() > 1) {
          auto middle = rows.begin() + static_cast<long>(rows.size() / 2);
          load({rows.begin(), middle});
          load({middle, rows.end()});
          return;
        }
        bad = 0;
      }
      reject(*rows[bad], *failure);
      rows.erase(rows.begin() + static_cast<long>(bad));
    }
  }

  checksums::ChunkDigest digest() const { return digester_.digest(); }

 private:
  std::optional<Error> try_copy(const std::vector<const Row*>& rows) {
    std::optional<pg::CopyIn> load;
    try {
      load.emplace(target_, plan::copy_in_sql(table_, plan::CopyFormat::Text), table_.target);
    } catch (const Error& e) {
      return e;
    }
    std::string buffer;
    for (const Row* r : rows) buffer.append(r->line).push_back('\n');
    load->put(buffer);
    return load->end().error;
  }

  // COPY names the failing row in its context: "COPY t, line 3, column v: ...".
  static size_t failing_line(const Error& error, size_t rows) {
    static const std::regex line(R"(COPY [^,]*, line ([0-9]+))");
    std::smatch m;
    std::string text = error.what();
    if (!std::regex_search(text, m, line)) return rows;
    size_t n = std::stoul(m[1]);
    return n >= 1 && n <= rows ? n - 1 : rows;
  }

  void accept(const Row& row) {
    std::string with_newline = row.line + "\n";
    digester_.consume(std::span<const char>(with_newline.data(), with_newline.size()));
    ++load_.rows;
    load_.bytes += static_cast<int64_t>(with_newline.size());
  }

  void reject(const Row& row, const Error& why) {
    if (!sink_.take_one()) {
      throw Error(ErrorKind::Runtime,
                  fmt::format("more than {} rows rejected (--max-rejects); the last: {}", sink_.max(), why.what()),
                  table_.target, "fix the rows or the target's constraints, or raise --max-rejects", why.sqlstate());
    }
    load_.rejected.emplace_back(row.line, why.what());
  }

  pg::Connection& target_;
  const plan::TableCopy& table_;
  RejectSink& sink_;
  IsolatedLoad& load_;
  checksums::RowDigester digester_;
};

}  // namespace

RejectSink::RejectSink(std::filesystem::path directory, int64_t max_rejects)
    : directory_(std::move(directory)), max_(max_rejects), remaining_(max_rejects) {}

bool RejectSink::take_one() {
  for (int64_t left = remaining_.load(); left > 0;) {
    if (remaining_.compare_exchange_weak(left, left - 1)) return true;
  }
  return false;
}

std::filesystem::path RejectSink::file_of(const std::string& table, size_t chunk) const {
  std::string name;
  for (char c : table) name += (c == '"' || c == '/') ? '_' : c;
  return directory_ / fmt::format("{}.chunk-{}.rejects", name, chunk);
}

void RejectSink::write(const std::string& table, size_t chunk,
                       const std::vector<std::pair<std::string, std::string>>& rows) {
  if (rows.empty()) return;
  std::string text;
  for (const auto& [line, reason] : rows) {
    std::string one_line_reason = reason;
    for (char& c : one_line_reason) c = c == '\n' ? ' ' : c;
    text += "-- " + one_line_reason + "\n" + line + "\n";
  }
  DurableFile::write_whole(file_of(table, chunk), text, "rejects file",
                          "free space or fix permissions in --rejects-dir, then resume; the chunk was not committed");
}

IsolatedLoad load_isolating_rejects(pg::Connection& source, pg::Connection& target, const std::string& copy_out_sql,
                                    const plan::TableCopy& table, RejectSink& sink, pg::Cancellation& cancellation) {
  IsolatedLoad load;
  BatchLoader loader(target, table, sink, load);
  std::vector<Row> batch;
  auto flush = [&] {
    std::vector<const Row*> rows;
    for (const auto& r : batch) rows.push_back(&r);
    loader.load(rows);
    batch.clear();
  };
  verify::for_each_copied_row(source, copy_out_sql, plan::CopyFormat::Text, -1, table.source, cancellation,
                      [&](const checksums::RowView& row) {
                        batch.push_back(Row{std::string(row.bytes)});
                        if (batch.size() == kBatchRows) flush();
                      });
  flush();
  load.digest = loader.digest();
  return load;
}

}  // namespace pgblit::mover
