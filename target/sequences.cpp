// See sequences.hpp.
#include "target/sequences.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "pg/sql.hpp"

namespace pgblit::target {
namespace {

// "schema"."name" of a relation, always quoted, as the plan names tables.
std::string quoted_name_sql(const std::string& oid) {
  return fmt::format("(SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' "
                     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {})",
                     oid);
}

// Every sequence a written column owns or defaults from, with that column.
struct Feed {
  std::string sequence, table, column;
  bool integral = false;
};

std::vector<Feed> sequence_feeds(pg::Connection& target, const std::vector<WrittenTable>& written) {
  std::vector<std::string> tables, columns;
  for (const auto& w : written) {
    for (const auto& c : w.columns) {
      tables.push_back(w.table);
      columns.push_back(c);
    }
  }
  auto r = target.exec_params(fmt::format(R"(
WITH cols AS (
  SELECT a.attrelid AS rel, a.attnum, a.attname, a.atttypid
  FROM unnest($1::text[], $2::text[]) u(t, c)
  JOIN pg_attribute a ON a.attrelid = to_regclass(u.t) AND a.attname = u.c AND NOT a.attisdropped),
feeds AS (
  SELECT d.objid AS seq, cols.* FROM cols
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = cols.rel AND d.refobjsubid = cols.attnum AND d.deptype IN ('a', 'i')
  UNION
  SELECT d.refobjid, cols.* FROM cols
  JOIN pg_attrdef ad ON ad.adrelid = cols.rel AND ad.adnum = cols.attnum
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass)
SELECT DISTINCT {}, {}, f.attname, f.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
FROM feeds f JOIN pg_class s ON s.oid = f.seq AND s.relkind = 'S'
ORDER BY 1, 2, 3)", quoted_name_sql("f.seq"), quoted_name_sql("f.rel")),
                              {pg::text_array_literal(tables), pg::text_array_literal(columns)}, "sequences");
  std::vector<Feed> feeds;
  for (int i = 0; i < r.rows(); ++i) feeds.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.boolean(i, 3)});
  return feeds;
}

}  // namespace

SequenceAdvance advance_sequences(pg::Connection& target, const std::vector<WrittenTable>& written,
                                  const SequenceHints& hints) {
  SequenceAdvance result;
  auto feeds = sequence_feeds(target, written);
  std::set<std::string> sequences;
  for (const auto& f : feeds) sequences.insert(f.sequence);
  for (const auto& seq : sequences) {
    // The largest value the sequence must stay past: its columns' and the source's.
    std::optional<int64_t> wanted;
    auto raise = [&](int64_t v) { wanted = wanted ? std::max(*wanted, v) : v; };
    if (auto h = hints.by_sequence.find(seq); h != hints.by_sequence.end()) raise(h->second);
    for (const auto& f : feeds) {
      if (f.sequence != seq) continue;
      std::string column = f.table + "." + pg::quote_ident(f.column);
      if (auto h = hints.by_column.find(column); h != hints.by_column.end()) raise(h->second);
      if (!f.integral) continue;
      auto max = target.exec(fmt::format("SELECT max({})::text FROM {}", pg::quote_ident(f.column), f.table), f.table);
      if (!max.is_null(0, 0)) raise(std::stoll(max.text(0, 0)));
    }
    if (!wanted) continue;
    auto now = target.exec(fmt::format("SELECT s.last_value::text, s.is_called, p.seqincrement::text, p.seqmax::text "
                                       "FROM {} s, pg_sequence p WHERE p.seqrelid = {}::regclass",
                                       seq, pg::quote_literal(seq)),
                           seq);
    int64_t last = std::stoll(now.text(0, 0)), increment = std::stoll(now.text(0, 2)), max = std::stoll(now.text(0, 3));
    if (increment < 0) {
      result.notes.push_back(seq + " counts down: not set");
      continue;
    }
    int64_t handed_out = now.boolean(0, 1) ? last : last - increment;  // the last value it gave
    if (*wanted <= handed_out) {
      ++result.already;
      continue;
    }
    if (*wanted > max) {
      result.notes.push_back(fmt::format("{} ends at {}, below the value {} its column holds: not set", seq, max, *wanted));
      continue;
    }
    target.exec_params("SELECT setval($1::regclass, $2::int8, true)", {seq, std::to_string(*wanted)}, seq);
    ++result.set;
  }
  return result;
}

SequenceHints source_sequence_hints(pg::Connection& source, const std::vector<std::string>& tables,
                                    const std::map<std::string, std::string>& renamed) {
  // pg_sequence_last_value() is NULL for a sequence never used (or unreadable): no hint.
  auto r = source.exec_params(fmt::format(R"(
SELECT {}, a.attname, pg_sequence_last_value(s.seqrelid)::text
FROM pg_sequence s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.refobjid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t)
  AND pg_sequence_last_value(s.seqrelid) IS NOT NULL)", quoted_name_sql("d.refobjid")),
                              {pg::text_array_literal(tables)}, "sequences");
  SequenceHints hints;
  for (int i = 0; i < r.rows(); ++i) {
    std::string table = r.text(i, 0);
    if (auto to = renamed.find(table); to != renamed.end()) table = to->second;
    hints.by_column[table + "." + pg::quote_ident(r.text(i, 1))] = std::stoll(r.text(i, 2));
  }
  return hints;
}

}  // namespace pgblit::target
