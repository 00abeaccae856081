// See changed_keys.hpp. The message layout is PostgreSQL's "Logical Replication Message
// Formats" (protocol version 1): every integer big-endian, strings NUL-terminated.
#include "source/changed_keys.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pg/sql.hpp"

namespace pgblit::source {
namespace {

Error malformed(const std::string& what) {
  return Error(ErrorKind::Runtime, "unexpected pgoutput message from the key slot: " + what, "",
               "report this; pgblit cutover --check counts or --check full does without the key slot");
}

uint64_t take_int(std::string_view& in, size_t bytes) {
  if (in.size() < bytes) throw malformed("truncated");
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(bytes);
  return v;
}

std::string take_string(std::string_view& in) {
  auto end = in.find('\0');
  if (end == std::string_view::npos) throw malformed("unterminated string");
  std::string s(in.substr(0, end));
  in.remove_prefix(end + 1);
  return s;
}

// bytea's text output: \x followed by hex digits.
std::string from_hex(const std::string& text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') throw malformed("bytea not in hex");
  auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) out.push_back(static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1])));
  return out;
}

}  // namespace

void PgoutputKeys::add_tuple(const Relation& r, std::string_view& in) {
  auto columns = take_int(in, 2);
  nlohmann::json key = nlohmann::json::object();
  bool usable = r.keyed && columns == r.columns.size();
  for (uint64_t i = 0; i < columns; ++i) {
    char kind = static_cast<char>(take_int(in, 1));
    std::string value;
    if (kind == 't' || kind == 'b') {
      auto length = take_int(in, 4);
      if (in.size() < length) throw malformed("truncated column");
      value = std::string(in.substr(0, length));
      in.remove_prefix(length);
    }
    if (i < r.key.size() && r.key[i]) {
      if (kind == 't') {
        key[r.columns[i]] = value;
      } else {
        usable = false;  // a NULL or unchanged TOAST key: no key to look up
      }
    }
  }
  if (r.table.empty()) return;
  if (usable && !key.empty()) {
    out_.keys[r.table].insert(std::move(key));
  } else {
    out_.whole.insert(r.table);
  }
}

uint64_t PgoutputKeys::add(const std::string& message) {
  std::string_view in(message);
  char type = static_cast<char>(take_int(in, 1));
  auto relation = [&]() -> const Relation& {
    auto id = static_cast<uint32_t>(take_int(in, 4));
    auto found = relations_.find(id);
    if (found == relations_.end()) throw malformed(fmt::format("a change of relation {} before its description", id));
    return found->second;
  };
  switch (type) {
    case 'R': {
      auto id = static_cast<uint32_t>(take_int(in, 4));
      Relation r;
      take_string(in);  // schema and name: the OID names the plan's table
      take_string(in);
      char identity = static_cast<char>(take_int(in, 1));
      r.keyed = identity == 'd' || identity == 'i';
      auto n = take_int(in, 2);
      for (uint64_t i = 0; i < n; ++i) {
        r.key.push_back(take_int(in, 1) & 1);
        r.columns.push_back(take_string(in));
        take_int(in, 8);  // type OID and modifier
      }
      r.table = table_of_(id);
      relations_[id] = std::move(r);
      return 0;
    }
    case 'I': {
      const auto& r = relation();
      if (take_int(in, 1) != 'N') throw malformed("insert without a new tuple");
      add_tuple(r, in);
      ++out_.changes;
      return 0;
    }
    case 'U':
    case 'D': {
      const auto& r = relation();
      for (;;) {  // the old key (K) or old row (O), then for an update the new row (N)
        if (in.empty()) break;
        char part = static_cast<char>(take_int(in, 1));
        if (part != 'K' && part != 'O' && part != 'N') throw malformed("unknown tuple kind");
        add_tuple(r, in);
      }
      ++out_.changes;
      return 0;
    }
    case 'T': {
      auto n = take_int(in, 4);
      take_int(in, 1);
      for (uint64_t i = 0; i < n; ++i) {
        auto table = table_of_(static_cast<uint32_t>(take_int(in, 4)));
        if (!table.empty()) out_.whole.insert(table);
      }
      ++out_.changes;
      return 0;
    }
    case 'C': {
      take_int(in, 1);
      take_int(in, 8);      // the commit record's start
      return take_int(in, 8);  // its end: decoding from here skips this transaction
    }
    default:
      return 0;  // begin, origin, type, message: no rows
  }
}

ChangedKeys PgoutputKeys::take() {
  ChangedKeys out = std::move(out_);
  out_ = {};
  return out;
}

std::string create_key_slot(pg::Connection& source, const std::string& slot) {
  return source.exec_params("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", {slot}, slot)
      .text(0, 0);
}

std::string key_slot_unusable(pg::Connection& source, const std::string& slot) {
  // to_jsonb: wal_status is a column of PostgreSQL 13+ only.
  auto r = source.exec_params("SELECT COALESCE(to_jsonb(s)->>'wal_status', '') FROM pg_replication_slots s "
                              "WHERE slot_name = $1",
                              {slot}, slot);
  if (r.rows() == 0) return "is gone from the source (dropped)";
  if (r.text(0, 0) == "lost") return "was invalidated: the source removed WAL it still needed (max_slot_wal_keep_size)";
  return "";
}

namespace {
std::string lsn_text(uint64_t lsn) { return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xffffffffu); }
}  // namespace

int64_t drain_key_slot(pg::Connection& source, const std::string& slot, const std::string& publication,
                       const plan::Plan& plan, const std::string& upto, bool advance,
                       const std::function<void(const ChangedKeys&)>& store) {
  std::map<uint32_t, std::string> tables;
  for (const auto& t : plan.tables) {
    auto oid = source.exec_params("SELECT $1::regclass::oid", {t.source}, t.source).int64(0, 0);
    tables[static_cast<uint32_t>(oid)] = t.source;
  }
  auto table_of = [&](uint32_t relid) -> std::string {
    if (auto found = tables.find(relid); found != tables.end()) return found->second;
    // A partition of a planned partitioned table: its changes carry the partition's OID.
    auto up = source.exec_params("SELECT relid::oid FROM pg_partition_ancestors($1::oid::regclass) WHERE relid::oid <> $1::oid",
                                 {std::to_string(relid)}, slot);
    for (int i = 0; i < up.rows(); ++i) {
      if (auto found = tables.find(static_cast<uint32_t>(up.int64(i, 0))); found != tables.end()) {
        return tables[relid] = found->second;
      }
    }
    spdlog::warn("the key slot has changes of relation {}, which is not one of the run's tables", relid);
    return tables[relid] = "";
  };
  constexpr int kBatch = 20000;  // changes a peek returns at most (whole transactions): bounds memory
  int64_t total = 0;
  for (;;) {
    PgoutputKeys parser(table_of);
    uint64_t end = 0;
    // READ WRITE: a fenced source starts sessions read-only; decoding writes the slot's state.
    source.exec("BEGIN READ WRITE", slot);
    auto r = source.exec_params(
        "SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, $3, 'proto_version', '1', "
        "'publication_names', $4)",
        {slot, upto, advance ? std::optional(std::to_string(kBatch)) : std::nullopt, pg::quote_ident(publication)},
        slot);
    source.exec("COMMIT", slot);
    for (int i = 0; i < r.rows(); ++i) {
      if (auto commit_end = parser.add(from_hex(r.text(i, 0)))) end = commit_end;
    }
    auto keys = parser.take();
    total += keys.changes;
    if (!keys.empty()) store(keys);
    // Past what was stored: past the last commit read, or, once the peek stopped short of its
    // limit, up to `upto`
    // (every commit starting before it has been read). Never backwards: a rerun's `upto` may
    // lie behind where an earlier drain left the slot.
    bool done = r.rows() < kBatch || end == 0;
    if (!advance) break;
    source.exec_params("SELECT pg_replication_slot_advance($1, greatest($2::pg_lsn, confirmed_flush_lsn)) "
                       "FROM pg_replication_slots WHERE slot_name = $1",
                       {slot, done ? upto : lsn_text(end)}, slot);
    if (done) break;
  }
  return total;
}

}  // namespace pgblit::source
