// See target_demands.hpp.
#include "dryrun/target_demands.hpp"

#include <fmt/format.h>

#include <cctype>

#include "pg/sql.hpp"

namespace pgblit::dryrun {
namespace {

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

}  // namespace

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

}  // namespace pgblit::dryrun
