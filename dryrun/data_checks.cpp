// See data_checks.hpp.
#include "dryrun/data_checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/worker_pool.hpp"
#include "plan/sql_render.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "target/target_prep.hpp"

namespace pgblit::dryrun {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMaxKeysSentToTarget = 1000000;  // distinct keys a target-side check ships

struct Count {
  int64_t rows = 0;
  std::string example;
};

// A check's sessions: the source's in the run's snapshot, the target's opened when first needed.
struct Sessions {
  std::optional<pg::Connection> source, target;
};

struct Check {
  Finding finding;
  std::function<Count(Sessions&)> count;
  double scale = 1;          // the count was taken on a sample of 1/scale of the rows
  bool on_source_only = false;  // failing on the source means the expression is not portable (info)
  size_t counts_table = SIZE_MAX;  // an exact row count of this plan table, not a finding
  bool finds_a_row = false;  // counts rows a filter selects (at most 1): a finding only when none
  // A row predicate on this table's rows (exact counts only); or, with rows_with_warnings, the
  // count of its rows that any of those predicates holds for (a row with two problems is one).
  const plan::TableCopy* row_table = nullptr;
  bool rows_with_warnings = false;
};

// One target column the copy fills, and what the target demands of its values.
struct TargetColumn {
  std::string table{}, name{}, type{};
  // NOT NULL: COPY applies no default to an explicit NULL, so a default or an identity does not
  // help (a generated column's value is the target's expression, which the checks compute).
  bool needs_value = false;
  int max_chars = -1;
  int precision = -1, scale = 0;
  bool is_enum = false;
  std::vector<std::string> labels{};
};

std::vector<TargetColumn> read_target_columns(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(R"(
SELECT t, a.attname, format_type(a.atttypid, a.atttypmod),
       (a.attnotnull OR EXISTS (  -- a NOT NULL domain, at any level of a domain over a domain
          WITH RECURSIVE up(oid) AS (SELECT a.atttypid UNION ALL
                                     SELECT d.typbasetype FROM up JOIN pg_type d ON d.oid = up.oid WHERE d.typtype = 'd')
          SELECT 1 FROM up JOIN pg_type d ON d.oid = up.oid WHERE d.typnotnull)),
       CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4 THEN a.atttypmod - 4 END,
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 4 THEN (a.atttypmod - 4) & 65535 END,
       ty.typtype = 'e',
       ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder)::text[]
FROM unnest($1::text[]) t JOIN pg_attribute a ON a.attrelid = t::regclass AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type ty ON ty.oid = a.atttypid)",
                              {pg::text_array_literal(tables)}, "columns");
  std::vector<TargetColumn> out;
  for (int i = 0; i < r.rows(); ++i) {
    TargetColumn c{r.text(i, 0), r.text(i, 1), r.text(i, 2)};
    c.needs_value = r.boolean(i, 3);
    if (!r.is_null(i, 4)) c.max_chars = std::stoi(r.text(i, 4));
    if (!r.is_null(i, 5)) c.precision = std::stoi(r.text(i, 5)), c.scale = std::stoi(r.text(i, 6));
    c.is_enum = r.boolean(i, 7);
    c.labels = r.text_array(i, 8);
    out.push_back(std::move(c));
  }
  return out;
}

// The source's column types, by (source table, column).
std::map<std::pair<std::string, std::string>, std::string> read_source_types(pg::Connection& source,
                                                                            const plan::Plan& plan) {
  std::vector<std::string> tables;
  for (const auto& t : plan.tables) {
    if (!t.from_query()) tables.push_back(t.source);
  }
  auto r = source.exec_params(R"(
SELECT t, a.attname, format_type(a.atttypid, a.atttypmod)
FROM unnest($1::text[]) t JOIN pg_attribute a ON a.attrelid = t::regclass AND a.attnum > 0 AND NOT a.attisdropped)",
                              {pg::text_array_literal(tables)}, "columns");
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out[{r.text(i, 0), r.text(i, 1)}] = r.text(i, 2);
  return out;
}

struct Key {
  std::string name, table, type;  // type: 'p', 'u', 'f', 'c'
  std::vector<std::string> columns, column_types;
  std::string referenced;          // "schema"."table" of a foreign key's parent
  std::vector<std::string> referenced_columns;
  std::string expression;          // a CHECK constraint's
  bool nulls_not_distinct = false;  // a unique constraint that counts NULLs as equal (PostgreSQL 15+)
  std::string not_portable;        // why a CHECK must not run on the source ("" when it may)
};

// Why a CHECK (of a table or a domain, pg_constraint aliased c) must not run on the source: a
// function, operator or cast in it that the target defines or that is not immutable ("" when
// it may run there: every one of them built in and immutable).
constexpr const char* kNotPortableSql = R"(CASE WHEN c.contype = 'c' THEN (
         SELECT string_agg(DISTINCT x.what, ', ') FROM (
           SELECT format('%s (%s)', f.oid::regprocedure,
                         CASE WHEN f.oid >= 16384 THEN 'defined on the target' ELSE 'not immutable' END) AS what
           FROM regexp_matches(c.conbin::text, ':(funcid|opfuncid) ([0-9]+)', 'g') m(v)
           JOIN pg_proc f ON f.oid = v[2]::oid WHERE f.oid >= 16384 OR f.provolatile <> 'i'
           UNION ALL
           SELECT format('operator %s (defined on the target)', o.oid::regoperator)
           FROM regexp_matches(c.conbin::text, ':opno ([0-9]+)', 'g') m(v)
           JOIN pg_operator o ON o.oid = v[1]::oid WHERE o.oid >= 16384 OR o.oprcode::oid >= 16384
           UNION ALL
           SELECT format('a cast to %s (a type defined on the target)', t.oid::regtype)
           FROM regexp_matches(c.conbin::text, ':resulttype ([0-9]+)', 'g') m(v)
           JOIN pg_type t ON t.oid = v[1]::oid WHERE t.oid >= 16384) x) END)";

std::vector<Key> read_keys(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(fmt::format(R"(
SELECT tab.name, c.conname, c.contype::text,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       CASE WHEN c.contype = 'f' THEN '"' || replace(n.nspname, '"', '""') || '"."' || replace(p.relname, '"', '""') || '"' END,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       CASE WHEN c.contype = 'c' THEN pg_get_expr(c.conbin, c.conrelid) END,
       COALESCE((SELECT to_jsonb(i) ->> 'indnullsnotdistinct' FROM pg_index i WHERE i.indexrelid = c.conindid), '') = 'true',
       {}
FROM unnest($1::text[]) AS tab(name) JOIN pg_constraint c ON c.conrelid = tab.name::regclass AND c.contype IN ('p', 'u', 'f', 'c')
LEFT JOIN pg_class p ON p.oid = c.confrelid LEFT JOIN pg_namespace n ON n.oid = p.relnamespace)",
                                          kNotPortableSql),
                              {pg::text_array_literal(tables)}, "constraints");
  std::vector<Key> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.text(i, 1), r.text(i, 0), r.text(i, 2), r.text_array(i, 3), r.text_array(i, 6), r.text(i, 4),
                   r.text_array(i, 5), r.text(i, 7), r.boolean(i, 8), r.text(i, 9)});
  }
  return out;
}

// An exclusion constraint: its columns and their operators, as SQL (OPERATOR(schema.op)).
struct Exclusion {
  std::string name, table;
  std::vector<std::string> columns, operators;
  std::string not_countable;  // why its rows are not counted ("" when they are)
};

// Tables larger than this (by their statistics) do not get their exclusion constraints counted.
constexpr int64_t kExclusionRows = 100000;

std::vector<Exclusion> read_exclusions(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(R"(
SELECT tab.name, c.conname,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       ARRAY(SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname) FROM unnest(c.conexclop) WITH ORDINALITY x(op, i)
             JOIN pg_operator o ON o.oid = x.op JOIN pg_namespace n ON n.oid = o.oprnamespace ORDER BY x.i)::text[],
       CASE WHEN 0 = ANY (c.conkey) OR i.indexprs IS NOT NULL THEN 'it is on an expression'
            WHEN i.indpred IS NOT NULL THEN 'it has a WHERE'
            WHEN EXISTS (SELECT 1 FROM unnest(c.conexclop) x(op) JOIN pg_operator o ON o.oid = x.op
                         WHERE o.oid >= 16384 OR o.oprcode::oid >= 16384) THEN 'an operator the target defines'
            ELSE '' END
FROM unnest($1::text[]) AS tab(name) JOIN pg_constraint c ON c.conrelid = tab.name::regclass AND c.contype = 'x'
JOIN pg_index i ON i.indexrelid = c.conindid)",
                              {pg::text_array_literal(tables)}, "exclusion constraints");
  std::vector<Exclusion> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.text(i, 1), r.text(i, 0), r.text_array(i, 2), r.text_array(i, 3), r.text(i, 4)});
  }
  return out;
}

// A target column the target computes (GENERATED ALWAYS AS (expression) STORED).
struct Generated {
  std::string table, name, expression;
  std::vector<std::string> reads;  // the columns its expression reads
};

// The target's generated columns whose expression may run on the source (built-in immutable
// functions and operators only: see kNotPortableSql); the others are left to the copy.
std::vector<Generated> read_generated(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(fmt::format(R"(
SELECT tab.name, a.attname, pg_get_expr(c.conbin, a.attrelid), {},
       ARRAY(SELECT r.attname FROM pg_depend dep JOIN pg_attribute r ON r.attrelid = dep.refobjid AND r.attnum = dep.refobjsubid
             WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = c.oid AND dep.refobjsubid > 0)::text[]
FROM unnest($1::text[]) AS tab(name) JOIN pg_attribute a ON a.attrelid = tab.name::regclass AND a.attgenerated <> ''
JOIN LATERAL (SELECT d.oid, 'c'::"char" AS contype, d.adbin AS conbin FROM pg_attrdef d
              WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) c ON true)",
                                          kNotPortableSql),
                              {pg::text_array_literal(tables)}, "generated columns");
  std::vector<Generated> out;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 3) || r.text(i, 3).empty()) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text_array(i, 4)});
  }
  return out;
}

// `expression` with every VALUE keyword (a domain CHECK's value) replaced by `value`, outside
// quoted literals and identifiers.
std::string with_value(const std::string& expression, const std::string& value) {
  auto identifier_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
  };
  std::string out;
  for (size_t i = 0; i < expression.size();) {
    char c = expression[i];
    if (c == '\'' || c == '"') {
      size_t end = i + 1;
      while (end < expression.size() && expression[end] != c) ++end;
      out.append(expression, i, end + 1 - i);
      i = end + 1;
    } else if (expression.compare(i, 5, "VALUE") == 0 && (i == 0 || !identifier_char(expression[i - 1])) &&
               (i + 5 >= expression.size() || !identifier_char(expression[i + 5]))) {
      out += value;
      i += 5;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// The CHECKs of the domains the target's columns are of (a domain over a domain: each level's),
// as CHECKs on their tables: VALUE is the column, cast to the domain's base type.
std::vector<Key> read_domain_checks(pg::Connection& target, const std::vector<std::string>& tables) {
  auto r = target.exec_params(fmt::format(R"(
WITH RECURSIVE cols AS (
  SELECT t AS tab, a.attname, a.atttypid AS domain FROM unnest($1::text[]) t
  JOIN pg_attribute a ON a.attrelid = t::regclass AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type ty ON ty.oid = a.atttypid AND ty.typtype = 'd'
  UNION ALL
  SELECT cols.tab, cols.attname, ty.typbasetype FROM cols JOIN pg_type ty ON ty.oid = cols.domain
  WHERE (SELECT b.typtype FROM pg_type b WHERE b.oid = ty.typbasetype) = 'd')
SELECT cols.tab, format('%s.%s', c.contypid::regtype, c.conname), cols.attname,
       pg_get_expr(c.conbin, 0),
       format_type((WITH RECURSIVE up AS (SELECT cols.domain AS oid UNION ALL
                     SELECT ty.typbasetype FROM up JOIN pg_type ty ON ty.oid = up.oid WHERE ty.typtype = 'd')
                    SELECT up.oid FROM up JOIN pg_type ty ON ty.oid = up.oid WHERE ty.typtype <> 'd'), NULL),
       {}
FROM cols JOIN pg_constraint c ON c.contypid = cols.domain AND c.contype = 'c')",
                                          kNotPortableSql),
                              {pg::text_array_literal(tables)}, "domains");
  std::vector<Key> out;
  for (int i = 0; i < r.rows(); ++i) {
    Key k;
    k.table = r.text(i, 0);
    k.name = r.text(i, 1);
    k.type = "c";
    k.columns = {r.text(i, 2)};
    k.expression = with_value(r.text(i, 3), fmt::format("({})::{}", pg::quote_ident(r.text(i, 2)), r.text(i, 4)));
    k.not_portable = r.text(i, 5);
    out.push_back(std::move(k));
  }
  return out;
}

std::string joined(const std::vector<std::string>& columns, const std::string& alias) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(alias + "." + pg::quote_ident(c));
  return fmt::format("{}", fmt::join(out, ", "));
}

Count count_on_source(Sessions& s, const std::string& sql, const std::string& object) {
  auto r = s.source->exec_one(sql, object);
  return {r.int64(0, 0), r.is_null(0, 1) ? "" : r.text(0, 1)};
}

// Builds the checks of one run; every source table loading into a target table is checked
// against that table's demands (a partitioned source: each partition).
class CheckBuilder {
 public:
  CheckBuilder(mover::RunSetup& run, const CheckOptions& options) : run_(run), options_(options) {
    for (const auto& t : run.plan.tables) sources_of_[t.target].push_back(&t);
    if (options.mapping) mappable_rows(*options.mapping);
  }

  std::vector<Check> build() {
    auto tables = run_.plan.target_tables();
    auto source_types = read_source_types(*run_.coordinator, run_.plan);
    for (auto& g : read_generated(*run_.target, tables)) generated_[g.table].push_back(std::move(g));
    for (const auto& c : read_target_columns(*run_.target, tables)) column_checks(c, source_types);
    auto keys = read_keys(*run_.target, tables);
    auto exclusions = read_exclusions(*run_.target, tables);
    for (const auto& x : exclusions) {
      if (x.not_countable.empty()) with_exclusion_.insert(x.table);
    }
    for (const auto& k : keys) {
      if (!implied(k, keys)) key_checks(k);
    }
    for (const auto& k : read_domain_checks(*run_.target, tables)) key_checks(k);
    for (const auto& x : exclusions) exclusion(x);
    encoding_checks(source_types);
    if (options_.mapping) mapping_checks(*options_.mapping);
    for (const auto& [table, conditions] : predicates_) {
      if (conditions.size() < 2) continue;  // nothing can be counted twice
      auto sql = fmt::format("SELECT count(*), NULL FROM {} WHERE ({})", from(*table, false).first,
                             fmt::join(conditions, ") OR ("));
      Check check{{Severity::Info, "rows with warnings", table->source}, [sql](Sessions& s) {
                    return count_on_source(s, sql, "");
                  }};
      check.row_table = table;
      check.rows_with_warnings = true;
      checks_.push_back(std::move(check));
    }
    for (size_t i = 0; i < run_.plan.tables.size(); ++i) {
      if (counted_exactly(run_.plan.tables[i], options_.exact_counts)) {
        auto sql = fmt::format("SELECT count(*), NULL FROM {}", from_rows(run_.plan.tables[i], false, "c", {"" }, false).first);
        Check check{{Severity::Info, "count", run_.plan.tables[i].source}, [sql](Sessions& s) {
                      return count_on_source(s, sql, "");
                    }};
        check.counts_table = i;
        checks_.push_back(std::move(check));
      }
    }
    return std::move(checks_);
  }

 private:
  // " TABLESAMPLE ..." with --checks fast on a large table, and the scale to multiply counts by.
  std::pair<std::string, double> sample(const plan::TableCopy& t) const {
    double rows = static_cast<double>(t.estimated_rows);
    if (!options_.fast || rows <= kFastSampleRows || t.from_query()) return {"", 1.0};  // a subquery has no TABLESAMPLE
    double percent = std::max(0.0001, 100 * kFastSampleRows / rows);
    return {fmt::format(" TABLESAMPLE SYSTEM ({:.6f})", percent), 100 / percent};
  }

  // "ONLY s.t c", sampled with --checks fast; the scale to multiply counts by.
  // A mapped table is checked as the target will get it: its mapped rows, by target names.
  // `only`: the target columns the check reads (and the key, for its example); empty: all.
  // Each check evaluates only its own columns' expressions, so one mapped expression that
  // fails (a value map's else: error) is one finding, never a reason other checks did not run.
  // The target's generated columns are computed from the row (their expression over it), so a
  // check reads them as the target will store them.
  std::pair<std::string, double> from(const plan::TableCopy& t, bool may_sample = true,
                                      const std::string& alias = "c", const std::vector<std::string>& only = {}) const {
    auto g = generated_.find(t.target);
    if (g == generated_.end()) return from_rows(t, may_sample, alias, only);
    bool reads_one = only.empty();
    std::vector<std::string> computed, reads = only;  // the row's columns the computed ones need too
    for (const auto& column : g->second) {
      reads_one = reads_one || std::find(only.begin(), only.end(), column.name) != only.end();
      computed.push_back(fmt::format("({}) AS {}", column.expression, pg::quote_ident(column.name)));
      reads.insert(reads.end(), column.reads.begin(), column.reads.end());
    }
    if (!reads_one) return from_rows(t, may_sample, alias, only);
    if (only.empty()) reads.clear();
    std::erase_if(reads, [&](const std::string& name) {
      return std::any_of(g->second.begin(), g->second.end(), [&](const Generated& x) { return x.name == name; });
    });
    if (!only.empty() && reads.empty()) reads.push_back("");  // the key alone (checked_values adds it)
    auto [rows, scale] = from_rows(t, may_sample, "r", reads);
    return {fmt::format("(SELECT r.*, {} FROM {}) {}", fmt::join(computed, ", "), rows, alias), scale};
  }

  // Rows a value map's `else: error` fails are left out (the copy sets them aside for that, and
  // the value map check counts them): every other check sees only rows the mapping maps.
  std::pair<std::string, double> from_rows(const plan::TableCopy& t, bool may_sample, const std::string& alias,
                                           const std::vector<std::string>& only, bool mappable_only = true) const {
    auto [sample, scale] = may_sample ? this->sample(t) : std::pair<std::string, double>{"", 1.0};
    std::vector<std::string> where;
    if (!t.filter.empty()) where.push_back("(" + t.filter + ")");
    if (auto m = mappable_.find(&t); mappable_only && m != mappable_.end()) where.insert(where.end(), m->second.begin(), m->second.end());
    if (!t.mapped() && where.empty() && !t.from_query()) return {fmt::format("ONLY {} {}{}", t.source, alias, sample), scale};
    return {fmt::format("(SELECT {} FROM {}{}{}) {}", !t.mapped() ? "*" : fmt::format("{}", fmt::join(checked_values(t, only), ", ")),
                        plan::source_relation(t), sample, where.empty() ? "" : fmt::format(" WHERE {}", fmt::join(where, " AND ")), alias),
            scale};
  }

  // Per mapped table, the condition of each `else: error` value map: its value is NULL or one
  // the map covers.
  void mappable_rows(const mapping::Mapping& mapping) {
    for (const auto& t : run_.plan.tables) {
      if (const auto* entry = plan::entry_of(mapping, t)) {
        for (const auto& [column, cm] : entry->columns) {
          if (cm.values.empty() || cm.otherwise != "error") continue;
          std::vector<std::string> covered;
          for (const auto& [from, to] : cm.values) covered.push_back(from);
          auto value = fmt::format("({})::text", cm.from.empty() ? cm.expr : pg::quote_ident(cm.from));
          mappable_[&t].push_back(fmt::format("({0} IS NULL OR {0} = ANY ({1}::text[]))", value,
                                              pg::quote_literal(pg::text_array_literal(covered))));
        }
      }
    }
  }

  // A value map's `else: error` branch as NULL: the rows it would fail are left out (above), and
  // the checks must not fail on them whatever order the server evaluates conditions in.
  static std::string without_failing_branch(std::string sql) {
    static const std::string opening = "(('pgblit mapping: no value for '";
    static const std::string closing = "::int::text";
    for (size_t at = sql.find(opening); at != std::string::npos; at = sql.find(opening, at)) {
      int depth = 0;
      size_t i = at;
      for (; i < sql.size(); ++i) {
        if (sql[i] == '\'') {
          for (++i; i < sql.size() && !(sql[i] == '\'' && (i + 1 >= sql.size() || sql[i + 1] != '\'')); ++i) {
            if (sql[i] == '\'') ++i;  // a doubled quote
          }
        } else if (sql[i] == '(') {
          ++depth;
        } else if (sql[i] == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= sql.size() || sql.compare(i + 1, closing.size(), closing) != 0) break;
      sql.replace(at, i + 1 + closing.size() - at, "NULL::text");
    }
    return sql;
  }

  // The mapped values as the checks read them: a rescaled column before its cast to the
  // target's modifier, so the checks see what the target would round or refuse.
  static std::vector<std::string> checked_values(const plan::TableCopy& t, const std::vector<std::string>& only) {
    std::vector<std::string> out;
    auto select = plan::select_list(t);
    auto rescaled = plan::rescaled(t);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      bool key = std::find(t.key_fields.begin(), t.key_fields.end(), static_cast<int>(i)) != t.key_fields.end();
      if (!only.empty() && !key && std::find(only.begin(), only.end(), t.columns[i]) == only.end()) continue;
      auto r = std::find_if(rescaled.begin(), rescaled.end(), [&](const auto& x) { return x.column == t.columns[i]; });
      out.push_back(r == rescaled.end() ? without_failing_branch(select[i])
                                          : fmt::format("({}) AS {}", r->expression, pg::quote_ident(r->column)));
    }
    if (out.empty()) out.push_back("1");  // a check of the row count alone
    return out;
  }

  std::string example_key(const plan::TableCopy& t) const {
    std::vector<std::string> key;
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (!t.mapped()) {
        key.push_back(t.key[k]);
      } else if (t.key_fields[k] >= 0) {
        key.push_back(t.columns[static_cast<size_t>(t.key_fields[k])]);
      }
    }
    return key.empty() ? std::string("NULL") : fmt::format("min(ROW({})::text)", joined(key, "c"));
  }

  // A warning (or info) counting rows of each source of `table` where `condition` holds (alias c).
  void rows_where(const std::string& table, const std::string& check, const std::string& object,
                  const std::string& condition, const std::string& what, const std::string& fix,
                  bool on_source_only = false, const std::vector<std::string>& columns = {},
                  Severity severity = Severity::Warning) {
    for (const auto* t : sources_of_.at(table)) {
      rows_where_of(*t, check, object, condition, what, fix, columns, on_source_only, severity);
    }
  }

  void rows_where_of(const plan::TableCopy& t, const std::string& check, const std::string& object,
                     const std::string& condition, const std::string& what, const std::string& fix,
                     const std::vector<std::string>& columns, bool on_source_only = false,
                     Severity severity = Severity::Warning) {
    auto [from_sql, scale] = from(t, true, "c", columns);
    auto sql = fmt::format("SELECT count(*), {} FROM {} WHERE {}", example_key(t), from_sql, condition);
    Check c{{severity, check, object, fmt::format("rows of {} {}", t.source, what), -1, "", fix},
            [sql, object](Sessions& s) { return count_on_source(s, sql, object); }};
    c.scale = scale;
    c.on_source_only = on_source_only;
    if (scale == 1 && severity == Severity::Warning) {  // a sample differs from query to query
      c.row_table = &t;
      predicates_[&t].push_back(condition);
    }
    checks_.push_back(std::move(c));
  }

  void column_checks(const TargetColumn& c, const std::map<std::pair<std::string, std::string>, std::string>& types) {
    auto object = c.table + "." + pg::quote_ident(c.name);
    auto col = "c." + pg::quote_ident(c.name);
    const auto* first = sources_of_.at(c.table).front();
    bool filled = std::find(first->columns.begin(), first->columns.end(), c.name) != first->columns.end();
    bool computed = generated_.contains(c.table) &&
                    std::any_of(generated_.at(c.table).begin(), generated_.at(c.table).end(),
                                [&](const Generated& g) { return g.name == c.name; });
    if (!filled && !computed) return;  // the target's default (the planner already judged that)
    auto it = types.find({first->source, c.name});
    // A mapped table's values are cast to the target's type without its modifier.
    const std::string source_type = computed || first->mapped() || it == types.end() ? "mapped" : it->second;
    // Each reads this column alone (and the key for its example).
    auto rows_where = [&](const std::string& check, const std::string& condition, const std::string& what,
                          const std::string& fix, Severity severity = Severity::Warning) {
      this->rows_where(c.table, check, object, condition, what, fix, false, {c.name}, severity);
    };
    if (c.needs_value) {
      rows_where("not null", col + " IS NULL", "with NULL where the target's column is NOT NULL",
                 "fill the values, or let --max-rejects set the rows aside");
    }
    if (c.max_chars >= 0 && source_type != c.type) {
      // As the target enforces it: a value longer only by trailing spaces is cut to fit, not
      // refused (the copy stores it shortened, which verification then reports).
      rows_where("length", fmt::format("char_length(rtrim({}::text, ' ')) > {}", col, c.max_chars),
                 fmt::format("with values longer than the target's {} characters", c.max_chars),
                 "widen the target's column, or shorten the values");
      rows_where("trailing spaces",
                 fmt::format("char_length({0}::text) > {1} AND char_length(rtrim({0}::text, ' ')) <= {1}", col,
                             c.max_chars),
                 fmt::format("with values the target's {} characters keep only by cutting their trailing spaces "
                             "(stored shortened: verification reports them as differing)",
                             c.max_chars),
                 "widen the target's column, or trim the values", Severity::Info);
    }
    if (c.is_enum) {
      rows_where("enum",
                 fmt::format("{0} IS NOT NULL AND NOT ({0}::text = ANY ({1}::text[]))", col,
                             pg::quote_literal(pg::text_array_literal(c.labels))),
                 fmt::format("with labels the target's {} does not have", c.type),
                 fmt::format("ALTER TYPE {} ADD VALUE for each missing label", c.type));
    }
    if (source_type == c.type) return;  // the same type takes the same values
    static const std::map<std::string, std::pair<int64_t, int64_t>> ranges = {
        {"smallint", {-32768, 32767}}, {"integer", {INT32_MIN, INT32_MAX}}};
    if (auto r = ranges.find(c.type); r != ranges.end() && source_type != "smallint") {
      rows_where("range",
                 fmt::format("{0} IS NOT NULL AND ({0} < {1} OR {0} > {2})", col, r->second.first, r->second.second),
                 fmt::format("with values outside the target's {} range ({}: {} to {})", c.type, source_type,
                             r->second.first, r->second.second),
                 "widen the target's column to bigint");
    }
    if (c.precision > 0 && c.scale <= c.precision) {
      rows_where("numeric",
                 fmt::format("{0} IS NOT NULL AND {0}::numeric <> 'NaN' AND round(abs({0}::numeric), {1}) >= 1e{2}", col,
                             c.scale, c.precision - c.scale),
                 fmt::format("with values that overflow the target's {}", c.type),
                 "raise the target column's precision");
      // Not refused, but stored changed (2.675 as 2.68): verification reports them as differences.
      rows_where("rounding",
                 fmt::format("{0} IS NOT NULL AND {0}::numeric <> 'NaN' AND round(abs({0}::numeric), {1}) < 1e{2} "
                             "AND round({0}::numeric, {1}) <> {0}::numeric",
                             col, c.scale, c.precision - c.scale),
                 fmt::format("with values the target's {} rounds (stored changed: verification reports them)", c.type),
                 "raise the target column's scale, or round the values on the source");
    }
  }

  // A unique key whose every violation is one of another unique key of the table too (its columns
  // hold the other's: UNIQUE (id, k) beside PRIMARY KEY (id)): its rows are counted there, once.
  static bool implied(const Key& k, const std::vector<Key>& keys) {
    if (k.type != "p" && k.type != "u") return false;
    std::set<std::string> mine(k.columns.begin(), k.columns.end());
    return std::any_of(keys.begin(), keys.end(), [&](const Key& other) {
      if (&other == &k || other.table != k.table || (other.type != "p" && other.type != "u")) return false;
      if (k.nulls_not_distinct && !other.nulls_not_distinct) return false;
      std::set<std::string> theirs(other.columns.begin(), other.columns.end());
      bool subset = std::includes(mine.begin(), mine.end(), theirs.begin(), theirs.end());
      return subset && (theirs.size() < mine.size() || other.name < k.name);
    });
  }

  void key_checks(const Key& k) {
    auto object = k.table + " " + pg::quote_ident(k.name);
    if (k.type == "c" && !k.not_portable.empty()) {
      // The target's CHECK would run on the source with the source role's rights: whoever owns
      // a target table must not gain those. Only built-in immutable functions run there.
      checks_.push_back({{Severity::Info, "check", object,
                          fmt::format("the target's CHECK ({}) was not evaluated on the source: it uses {}, which "
                                      "must not run with the source role's rights; the copy tests it row by row on "
                                      "the target",
                                      k.expression, k.not_portable)},
                         nullptr});
    } else if (k.type == "c") {
      rows_where(k.table, "check", object, fmt::format("NOT ({})", k.expression),
                 "breaking the target's CHECK (" + k.expression + ")", "fix the rows, or relax the constraint",
                 true, k.columns);  // its own columns only: another column's failing expression is not its finding
    } else if (k.type == "f" && sources_of_.contains(k.referenced)) {
      orphans_among_copied(k, object);
    } else if (k.type == "f") {
      keys_checked_on_target(k, object, false);
    } else {
      duplicates(k, object);
      if (options_.append && prefilled().contains(k.table)) keys_checked_on_target(k, object, true);
    }
  }

  void duplicates(const Key& k, const std::string& object) {
    // A key with a NULL in it is distinct from every other, unless NULLS NOT DISTINCT.
    std::vector<std::string> not_null, same;
    for (const auto& c : k.columns) {
      not_null.push_back("c." + pg::quote_ident(c) + " IS NOT NULL");
      same.push_back(fmt::format(fmt::runtime(k.nulls_not_distinct ? "p.{0} IS NOT DISTINCT FROM c.{0}" : "p.{0} = c.{0}"),
                                 pg::quote_ident(c)));
    }
    std::string where = k.nulls_not_distinct ? "" : fmt::format(" WHERE {}", fmt::join(not_null, " AND "));
    for (const auto* t : sources_of_.at(k.table)) {
      auto sql = fmt::format(
          "SELECT COALESCE(sum(n - 1), 0), min(k) FROM (SELECT count(*) AS n, min(ROW({0})::text) AS k "
          "FROM {1}{2} GROUP BY {0} HAVING count(*) > 1) d",
          joined(k.columns, "c"), from(*t, false, "c", k.columns).first, where);
      Check check{{Severity::Warning, "unique", object,
                   "rows of " + t->source + " the target's unique constraint refuses (all but one of each "
                   "key they share)", -1,
                   "", "remove the duplicates on the source, or drop the constraint on the target"},
                  [sql, object](Sessions& s) { return count_on_source(s, sql, object); }};
      // The same rows as a row predicate (a row sharing its key with an earlier one), so a row
      // that also breaks an exclusion on the same value is one row. A self-join without the
      // target's index: only where the exclusion's own count runs one (small tables), never on
      // every unique key of every table (quadratic on a large one).
      if (!with_exclusion_.contains(k.table) || t->estimated_rows > kExclusionRows) {
        checks_.push_back(std::move(check));
        continue;
      }
      if (auto earlier = earlier_row(*t, k.columns, fmt::format("{}", fmt::join(same, " AND "))); !earlier.empty()) {
        check.row_table = t;
        predicates_[t].push_back(earlier);
      }
      checks_.push_back(std::move(check));
    }
  }

  // "A row of t before this one (alias c) where `condition` holds (alias p)", in the order of
  // t's key; "" when t has no key to order by.
  std::string earlier_row(const plan::TableCopy& t, const std::vector<std::string>& columns,
                          const std::string& condition) const {
    std::vector<std::string> key;
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (!t.mapped()) key.push_back(t.key[k]);
      else if (t.key_fields[k] >= 0) key.push_back(t.columns[static_cast<size_t>(t.key_fields[k])]);
    }
    if (key.empty() || key.size() != t.key.size()) return "";
    return fmt::format("EXISTS (SELECT 1 FROM {} WHERE ROW({}) < ROW({}) AND {})", from(t, false, "p", columns).first,
                       joined(key, "p"), joined(key, "c"), condition);
  }

  // Rows an exclusion constraint refuses: each row that conflicts with a row before it (in key
  // order). Where conflicting rows form groups that all conflict with one another (equal or
  // overlapping values), that is all but one of each group, as the target refuses them in any
  // order; in chains (a with b, b with c, not a with c) the target's count depends on the load
  // order and this one is an upper bound. A self-join without the target's index: run on tables
  // up to kExclusionRows rows; larger ones, or constraints on expressions, with a WHERE, or with
  // operators the target defines, are named as info (the copy tests them row by row).
  void exclusion(const Exclusion& x) {
    auto object = x.table + " " + pg::quote_ident(x.name);
    for (const auto* t : sources_of_.at(x.table)) {
      std::string condition;
      if (x.not_countable.empty() && t->estimated_rows <= kExclusionRows) {
        std::vector<std::string> conflicts;
        for (size_t i = 0; i < x.columns.size(); ++i) {
          conflicts.push_back(fmt::format("p.{0} {1} c.{0}", pg::quote_ident(x.columns[i]), x.operators[i]));
        }
        condition = earlier_row(*t, x.columns, fmt::format("{}", fmt::join(conflicts, " AND ")));
      }
      if (condition.empty()) {
        checks_.push_back({{Severity::Info, "exclusion", object,
                            fmt::format("rows of {} the target's exclusion constraint refuses are not counted ({}); the "
                                        "copy tests it row by row",
                                        t->source,
                                        !x.not_countable.empty() ? x.not_countable
                                        : t->estimated_rows > kExclusionRows
                                            ? fmt::format("more than {} rows: a self-join without the target's index", kExclusionRows)
                                            : std::string("the table has no key to order its rows by"))},
                           nullptr});
        continue;
      }
      std::vector<std::string> columns = x.columns;
      rows_where_of(*t, "exclusion", object, condition,
                    "that conflict with an earlier row under the target's exclusion constraint (all but one of each "
                    "group of conflicting rows)",
                    "remove the conflicting rows on the source, or drop the constraint on the target", columns);
    }
  }

  // Rows whose parent is not among the copied rows of the parent table (each side reads only the
  // key's columns: another column's failing expression is not this check's). Appended into a
  // parent that already holds rows, such rows' keys are then looked up on the target.
  void orphans_among_copied(const Key& k, const std::string& object) {
    std::vector<std::string> match, not_null, parents;
    for (size_t i = 0; i < k.columns.size(); ++i) {
      match.push_back(fmt::format("p.{} = c.{}", pg::quote_ident(k.referenced_columns[i]), pg::quote_ident(k.columns[i])));
      not_null.push_back(fmt::format("c.{} IS NOT NULL", pg::quote_ident(k.columns[i])));
    }
    for (const auto* parent : sources_of_.at(k.referenced)) {
      parents.push_back(fmt::format("EXISTS (SELECT 1 FROM {} WHERE {})",
                                    from(*parent, false, "p", k.referenced_columns).first, fmt::join(match, " AND ")));
    }
    if (options_.append && prefilled().contains(k.referenced)) {
      keys_checked_on_target(k, object, false, fmt::format("NOT ({})", fmt::join(parents, " OR ")),
                             " nor among the rows copied to it");
      return;
    }
    rows_where(k.table, "foreign key", object,
               fmt::format("{} AND NOT ({})", fmt::join(not_null, " AND "), fmt::join(parents, " OR ")),
               "whose parent row is not among the rows copied to " + k.referenced,
               "copy the parents too, or remove the orphans", false, k.columns);
  }

  // Rows whose key the target lacks (a foreign key to a table the run does not copy, or, appended,
  // to one that already holds rows: the parent may be there) or already has (a unique key of a
  // table that holds rows). The source's distinct keys (composite ones too), with their row
  // counts, are looked up on the target. `among`: only rows where this holds (alias c). A key the
  // target already has refuses every row holding it, and the unique check already counted all
  // but one of them: this counts the one.
  void keys_checked_on_target(const Key& k, const std::string& object, bool collisions,
                              const std::string& among = "", const std::string& why = "") {
    const auto& parent = collisions ? k.table : k.referenced;
    const auto& parent_columns = collisions ? k.columns : k.referenced_columns;
    std::vector<std::string> values, not_null, names, match;
    for (size_t i = 0; i < k.columns.size(); ++i) {
      auto column = pg::quote_ident(k.columns[i]);
      values.push_back(fmt::format("c.{}::text", column));
      not_null.push_back(fmt::format("c.{} IS NOT NULL", column));
      names.push_back(fmt::format("k{}", i));
      // The key's values in the target column's type (a foreign key's columns share its parent's).
      match.push_back(fmt::format("p.{} = v.k{}::{}", pg::quote_ident(parent_columns[i]), i, k.column_types[i]));
    }
    std::vector<std::string> groups;
    for (size_t i = 1; i <= k.columns.size(); ++i) groups.push_back(std::to_string(i));
    if (!among.empty()) not_null.push_back("(" + among + ")");
    for (const auto* t : sources_of_.at(k.table)) {
      auto source_sql = fmt::format("SELECT {}, count(*) FROM {} WHERE {} GROUP BY {} LIMIT {}", fmt::join(values, ", "),
                                    from(*t, false, "c", k.columns).first, fmt::join(not_null, " AND "),
                                    fmt::join(groups, ", "), kMaxKeysSentToTarget + 1);
      std::vector<std::string> arrays;
      for (size_t i = 1; i <= k.columns.size(); ++i) arrays.push_back(fmt::format("${}::text[]", i));
      auto target_sql = fmt::format(
          "SELECT v.i FROM unnest({}) WITH ORDINALITY v({}, i) WHERE {}EXISTS (SELECT 1 FROM {} p WHERE {})",
          fmt::join(arrays, ", "), fmt::join(names, ", "), collisions ? "" : "NOT ", parent, fmt::join(match, " AND "));
      Finding f = collisions
                      ? Finding{Severity::Warning, "existing key", object,
                                "rows of " + t->source + " whose key " + k.table +
                                    " already holds (one a key: its repeats are counted under unique)",
                                -1, "", "remove those rows from the target, or copy with --on-existing truncate"}
                      : Finding{Severity::Warning, "foreign key", object,
                                "rows of " + t->source + " whose parent is not on the target's " + parent +
                                    (why.empty() ? " (a table the run does not copy)" : why),
                                -1, "", "load the parents on the target first, or remove the orphans"};
      const size_t width = k.columns.size();
      checks_.push_back({std::move(f), [source_sql, target_sql, object, width, collisions,
                                        target = options_.target](Sessions& s) {
                           auto keys = s.source->exec_one(source_sql, object);
                           if (keys.rows() > kMaxKeysSentToTarget) {
                             throw usage_error(fmt::format("more than {} distinct keys to look up", kMaxKeysSentToTarget),
                                               object);
                           }
                           std::vector<std::optional<std::string>> params;
                           for (size_t col = 0; col < width; ++col) {
                             std::vector<std::string> column;
                             for (int i = 0; i < keys.rows(); ++i) column.push_back(keys.text(i, static_cast<int>(col)));
                             params.emplace_back(pg::text_array_literal(column));
                           }
                           if (!s.target) {
                             s.target.emplace(pg::open_session(target, "target"));
                             s.target->exec("BEGIN READ ONLY");
                           }
                           auto found = s.target->exec_params(target_sql, params, object);
                           Count count;
                           for (int i = 0; i < found.rows(); ++i) {
                             int row = static_cast<int>(found.int64(i, 0)) - 1;
                             count.rows += collisions ? 1 : keys.int64(row, static_cast<int>(width));
                             if (count.example.empty()) {
                               std::vector<std::string> key;
                               for (size_t col = 0; col < width; ++col) key.push_back(keys.text(row, static_cast<int>(col)));
                               count.example = fmt::format("({})", fmt::join(key, ", "));
                             }
                           }
                           return count;
                         }});
    }
  }

  // A target whose encoding cannot hold every character: LATIN1 from UTF8 is counted; other
  // pairs are named (the copy's conversion will refuse such rows).
  void encoding_checks(const std::map<std::pair<std::string, std::string>, std::string>& types) {
    auto source = run_.coordinator->exec("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").text(0, 0);
    auto target = run_.target->exec("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").text(0, 0);
    if (source == target || target == "UTF8" || target == "SQL_ASCII") return;
    if (source != "UTF8" || target != "LATIN1") {
      checks_.push_back({{Severity::Info, "encoding", "target database",
                          fmt::format("the source is {}, the target {}: characters the target cannot hold are "
                                      "refused row by row during the copy (not counted here)", source, target)},
                         nullptr});
      return;
    }
    for (const auto& t : run_.plan.tables) {
      std::vector<std::string> conditions;
      for (const auto& column : t.columns) {
        auto it = types.find({t.source, column});
        if (it == types.end()) continue;
        const auto& type = it->second;
        if (type == "text" || type.starts_with("character") || type == "json" || type == "jsonb" || type == "name") {
          conditions.push_back(fmt::format("c.{}::text ~ '[^\\x01-\\xff]'", pg::quote_ident(column)));
        }
      }
      if (conditions.empty()) continue;
      rows_where(t.target, "encoding", t.source, fmt::format("{}", fmt::join(conditions, " OR ")),
                 "with characters LATIN1 cannot hold", "change the values, or create the target database as UTF8");
    }
  }

  // The mapping, on the source rows it reads: values each value map lacks, and filters that
  // select nothing.
  void mapping_checks(const mapping::Mapping& mapping) {
    for (size_t i = 0; i < run_.plan.tables.size(); ++i) {
      const auto& t = run_.plan.tables[i];
      std::string where = t.filter.empty() ? "" : " WHERE " + t.filter;
      if (!t.filter.empty()) {
        auto sql = fmt::format("SELECT count(*), NULL FROM (SELECT 1 FROM ONLY {}{} LIMIT 1) c", t.source, where);
        Check c{{Severity::Info, "filter", t.source, fmt::format("selects no row of {} ({}): nothing of it is copied",
                                                                  t.source, t.filter_reason),
                 0, "", "check the scope's value and the table's where"},
                [sql, object = t.source](Sessions& s) { return count_on_source(s, sql, object); }};
        c.finds_a_row = true;
        checks_.push_back(std::move(c));
      }
      const mapping::TableMapping* m = plan::entry_of(mapping, t);
      if (!m) continue;
      for (const auto& [column, cm] : m->columns) {
        if (cm.values.empty()) continue;
        std::vector<std::string> covered;
        for (const auto& [from, to] : cm.values) covered.push_back(from);
        auto [sampled, scale] = sample(t);
        auto sql = fmt::format("SELECT count(*), min(v) FROM (SELECT ({})::text AS v FROM ONLY {}{}{}) c "
                               "WHERE v IS NOT NULL AND NOT (v = ANY ({}::text[]))",
                               cm.from.empty() ? cm.expr : pg::quote_ident(cm.from), t.source, sampled, where,
                               pg::quote_literal(pg::text_array_literal(covered)));
        bool fails = cm.otherwise == "error";
        Check c{{fails ? Severity::Warning : Severity::Info, "value map", t.target + "." + pg::quote_ident(column),
                 fmt::format("rows of {} with a {} the map ({}) does not cover: {}", t.source,
                             cm.from.empty() ? "value" : "\"" + cm.from + "\"", cm.where,
                             fails ? "the copy fails on them (else: error)"
                             : cm.otherwise == "null" ? "they get NULL (else: null)"
                                                      : "they keep their value (else: keep)"),
                 -1, "", "add the values to the map, or choose what 'else' does with them"},
                [sql, object = t.source](Sessions& s) { return count_on_source(s, sql, object); }};
        c.scale = scale;
        checks_.push_back(std::move(c));
      }
    }
  }

  std::set<std::string> prefilled() {
    if (!prefilled_) {
      auto filled = target::target_tables_with_rows(*run_.target, run_.plan);
      prefilled_ = std::set<std::string>(filled.begin(), filled.end());
    }
    return *prefilled_;
  }

  mover::RunSetup& run_;
  std::map<const plan::TableCopy*, std::vector<std::string>> predicates_;  // see Check::row_table
  std::set<std::string> with_exclusion_;  // target tables with an exclusion constraint the checks count
  const CheckOptions& options_;
  std::map<std::string, std::vector<const plan::TableCopy*>> sources_of_;
  std::map<std::string, std::vector<Generated>> generated_;  // by target table
  std::map<const plan::TableCopy*, std::vector<std::string>> mappable_;  // see from_rows
  std::vector<Check> checks_;
  std::optional<std::set<std::string>> prefilled_;
};

// Runs the checks on up to `jobs` sessions of their own, all in the run's snapshot.
std::vector<Finding> run_checks(std::vector<Check>& checks, mover::RunSetup& run, const CheckOptions& options) {
  std::vector<Finding> out(checks.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    Sessions sessions;
    for (size_t i = next++; i < checks.size(); i = next++) {
      auto& check = checks[i];
      auto& f = check.finding;
      auto started = Clock::now();
      try {
        if (!check.count) {
          out[i] = std::move(f);
          continue;
        }
        if (!sessions.source) {
          sessions.source.emplace(pg::open_session(options.source, "source"));
          pg::join_snapshot(*sessions.source, run.snapshot_id);
          if (options.timeout_seconds > 0) {
            sessions.source->exec(fmt::format("SET statement_timeout = {}", static_cast<int64_t>(options.timeout_seconds * 1000)));
          }
        }
        auto count = check.count(sessions);
        f.rows = static_cast<int64_t>(std::llround(static_cast<double>(count.rows) * check.scale));
        f.estimated = check.scale != 1;
        f.example = count.example;
      } catch (const Error& e) {
        bool timed_out = e.sqlstate() == kSqlstateQueryCanceled;
        if (check.on_source_only && !timed_out) {
          f.severity = Severity::Info;
          f.message = fmt::format("{}: not evaluated on the source ({}); the copy will test it row by row", f.message,
                                  e.what());
          f.fix = "";
        } else {
          f.severity = Severity::Error;
          f.message = fmt::format("the {} check did not run: {}", f.check,
                                  timed_out ? fmt::format("it took longer than --check-timeout {} s", options.timeout_seconds)
                                            : std::string(e.what()));
          f.fix = timed_out ? "raise --check-timeout, or sample with --checks fast"
                            : "give the source role what the check needs, or run the dry run as another role";
        }
        sessions = {};  // its snapshot transaction died with the failure: fresh sessions join again
      }
      f.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      out[i] = std::move(f);
    }
  };
  run_workers(options.jobs, [&](int) { work(); });  // a check's failure is its finding
  return out;
}

}  // namespace

bool counted_exactly(const plan::TableCopy& table, bool exact_counts) {
  return exact_counts || table.estimated_rows < kCountedBelowRows || !table.filter.empty();
}

DataChecks run_data_checks(mover::RunSetup& run, const CheckOptions& options) {
  auto checks = CheckBuilder(run, options).build();
  auto findings = run_checks(checks, run, options);
  DataChecks result;
  auto& out = result.findings;
  // Per table: the rows its predicate findings count, and how many distinct rows they are.
  std::map<const plan::TableCopy*, int64_t> counted, distinct;
  for (size_t i = 0; i < checks.size(); ++i) {
    const auto& f = findings[i];
    if (!checks[i].row_table) continue;
    if (checks[i].rows_with_warnings && f.severity == Severity::Info) distinct[checks[i].row_table] = f.rows;
    if (!checks[i].rows_with_warnings && f.severity == Severity::Warning) counted[checks[i].row_table] += f.rows;
  }
  for (const auto& [table, rows] : distinct) result.rows_counted_twice += std::max<int64_t>(0, counted[table] - rows);
  size_t filters = 0, empty_filters = 0;
  for (size_t i = 0; i < checks.size(); ++i) {
    auto& f = findings[i];
    if (checks[i].rows_with_warnings) continue;
    if (checks[i].counts_table != SIZE_MAX) {
      if (f.severity == Severity::Info) {
        run.plan.tables[checks[i].counts_table].estimated_rows = f.rows;
        continue;
      }
    }
    if (checks[i].finds_a_row && f.severity == Severity::Info) {
      ++filters;
      if (f.rows > 0) continue;  // it selects rows: nothing to say
      ++empty_filters;
    }
    if (f.check == "value map" && f.severity == Severity::Info && f.rows == 0) continue;  // the map covers them all
    out.push_back(std::move(f));
  }
  if (filters > 0 && empty_filters == filters) {
    out.push_back({Severity::Error, "filter", options.mapping ? options.mapping->file : "",
                   "the mapping's filters select no row of any table: the copy would copy nothing of them", -1, "",
                   "check the scope's value (its type and spelling) and the tables' where"});
  }
  return result;
}

}  // namespace pgblit::dryrun
