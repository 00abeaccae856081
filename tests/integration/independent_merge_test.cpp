// An acceptance test written from the user documentation alone (README.md, docs/mapping.md,
// docs/verification.md, docs/usage.md, docs/runs.md, docs/dry-run.md), not from the code: a
// small CRM in the shape of Atomic CRM (organizations, companies, contacts with a manager,
// deals, tasks, notes) moves one tenant into a target that already holds another tenant under
// the same keys. The deals become opportunities (name -> title, deal_id -> opportunity_id),
// values are mapped, the organization takes a new constant id, every row takes a new key from
// the target's sequences, and integer source columns load into bigint target ones. The chunks
// are small, so parents and children lie in different chunks (the contacts, whose target table
// refers to itself, are copied whole, as docs/partitioning.md says; their managers lie before
// and after them in key order, so the remap of a self-reference is still exercised both ways).
//
// What the target holds is compared with what the source says it should hold, computed here in
// plain SQL on the source, by natural keys: each row with what its references point at (a
// contact's company name and manager email, a note's deal title), never by ids, so a reference
// that follows the wrong key shows as a row pointing at the wrong thing.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

// Tenant 1 ("Acme") moves; tenant 2 ("Globex") stays on the source. Keys are integers, the
// two tenants' rows interleaved, so the moved keys have gaps and do not start at 1.
constexpr const char* kSource = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.companies (id serial PRIMARY KEY, org_id integer NOT NULL REFERENCES crm.organizations,
                            name text NOT NULL UNIQUE, sector text, pad text NOT NULL);
CREATE TABLE crm.contacts (id serial PRIMARY KEY, company_id integer NOT NULL REFERENCES crm.companies,
                           manager_id integer REFERENCES crm.contacts, email text NOT NULL UNIQUE,
                           status text, pad text NOT NULL);
CREATE TABLE crm.deals (id serial PRIMARY KEY, company_id integer NOT NULL REFERENCES crm.companies,
                        name text NOT NULL UNIQUE, stage text NOT NULL, amount numeric(12,2),
                        contact_ids bigint[], pad text NOT NULL);
CREATE TABLE crm.tasks (id serial PRIMARY KEY, contact_id integer NOT NULL REFERENCES crm.contacts,
                        text text NOT NULL, done boolean NOT NULL DEFAULT false, pad text NOT NULL);
CREATE TABLE crm.notes (id serial PRIMARY KEY, deal_id integer NOT NULL REFERENCES crm.deals,
                        text text NOT NULL, pad text NOT NULL);

INSERT INTO crm.organizations VALUES (1, 'Acme'), (2, 'Globex');
INSERT INTO crm.companies (org_id, name, sector, pad)
  SELECT CASE WHEN g % 3 = 0 THEN 2 ELSE 1 END, 'co-' || g,
         (ARRAY['tech', 'fin', 'retail'])[(g / 3) % 3 + 1], repeat('c', 120)
  FROM generate_series(1, 300) g;
-- company of contact g: (7g mod 300) + 1, so g and g +- 300k share a company (and a tenant).
INSERT INTO crm.contacts (company_id, email, status, pad)
  SELECT (g * 7) % 300 + 1, 'contact-' || g || '@example.com',
         (ARRAY['lead', 'customer', 'churned'])[g % 3 + 1], repeat('p', 120)
  FROM generate_series(1, 3000) g;
-- Managers in a later chunk (id + 1500) and in an earlier one (id - 300); many have none.
UPDATE crm.contacts SET manager_id = CASE WHEN id <= 1500 AND id % 4 = 0 THEN id + 1500
                                          WHEN id > 300 AND id % 4 = 1 THEN id - 300 END;
INSERT INTO crm.deals (company_id, name, stage, amount, pad)
  SELECT (g * 11) % 300 + 1, 'deal-' || g, (ARRAY['lead', 'won', 'lost'])[g % 3 + 1],
         (g * 37 % 100000) / 100.0, repeat('d', 120)
  FROM generate_series(1, 2000) g;
UPDATE crm.deals d SET contact_ids = ARRAY(SELECT c.id::bigint FROM crm.contacts c
                                           WHERE c.company_id = d.company_id ORDER BY c.id DESC LIMIT 2);
INSERT INTO crm.tasks (contact_id, text, done, pad)
  SELECT (g * 13) % 3000 + 1, 'task-' || g, g % 2 = 0, repeat('t', 120) FROM generate_series(1, 3000) g;
INSERT INTO crm.notes (deal_id, text, pad)
  SELECT (g * 17) % 2000 + 1, 'note-' || g, repeat('n', 120) FROM generate_series(1, 4000) g;
ANALYZE;
)";

// The other project's database: its own tenant ("Initech", 500) under keys 1..N that collide
// with the source's; bigint where the source has integer; deals are opportunities there.
constexpr const char* kTarget = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.companies (id serial PRIMARY KEY, org_id integer NOT NULL REFERENCES crm.organizations,
                            name text NOT NULL UNIQUE, sector text, pad text NOT NULL);
CREATE TABLE crm.contacts (id bigserial PRIMARY KEY, company_id bigint NOT NULL REFERENCES crm.companies,
                           manager_id bigint REFERENCES crm.contacts, email text NOT NULL UNIQUE,
                           status text, pad text NOT NULL);
CREATE TABLE crm.opportunities (id bigserial PRIMARY KEY, company_id bigint NOT NULL REFERENCES crm.companies,
                                title text NOT NULL UNIQUE, stage text NOT NULL, amount numeric(12,2),
                                contact_ids bigint[], pad text NOT NULL,
                                created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.tasks (id bigserial PRIMARY KEY, contact_id bigint NOT NULL REFERENCES crm.contacts,
                        text text NOT NULL, done boolean NOT NULL DEFAULT false, pad text NOT NULL);
CREATE TABLE crm.notes (id serial PRIMARY KEY, opportunity_id bigint NOT NULL REFERENCES crm.opportunities,
                        text text NOT NULL, pad text NOT NULL);

INSERT INTO crm.organizations VALUES (500, 'Initech');
INSERT INTO crm.companies (org_id, name, sector, pad)
  SELECT 500, 'initech-co-' || g, 'technology', repeat('C', 120) FROM generate_series(1, 120) g;
INSERT INTO crm.contacts (company_id, email, status, pad)
  SELECT (g * 7) % 120 + 1, 'initech-' || g || '@example.com', 'client', repeat('P', 120)
  FROM generate_series(1, 1000) g;
UPDATE crm.contacts SET manager_id = id - 120 WHERE id > 120 AND id % 5 = 0;
-- The application handed out contact keys up to 1500 and deleted some since.
SELECT setval('crm.contacts_id_seq', 1500);
INSERT INTO crm.opportunities (company_id, title, stage, amount, pad)
  SELECT (g * 11) % 120 + 1, 'initech-deal-' || g, 'new', g, repeat('D', 120) FROM generate_series(1, 700) g;
UPDATE crm.opportunities o SET contact_ids = ARRAY(SELECT c.id FROM crm.contacts c
                                                   WHERE c.company_id = o.company_id ORDER BY c.id LIMIT 2);
INSERT INTO crm.tasks (contact_id, text, pad)
  SELECT (g * 13) % 1000 + 1, 'initech-task-' || g, repeat('T', 120) FROM generate_series(1, 800) g;
INSERT INTO crm.notes (opportunity_id, text, pad)
  SELECT (g * 17) % 700 + 1, 'initech-note-' || g, repeat('N', 120) FROM generate_series(1, 900) g;
ANALYZE;
)";

// Written from docs/mapping.md: scope, remap of a constant, a computed key, renames, value maps
// (else keep and else error), new keys from the target's sequences.
constexpr const char* kMapping = R"(version: 1
scope: {column: org_id, value: "1"}
remap:
  - {columns: [org_id], from: "1", to: "900"}
tables:
  crm.organizations:
    where: "id = 1"
    columns:
      id: {expr: "900"}
  crm.companies:
    new_keys: sequence
    columns:
      sector:
        from: sector
        map: {tech: technology, fin: finance}
        else: keep
  crm.contacts:
    new_keys: sequence
    columns:
      status:
        from: status
        map: {lead: prospect, customer: client}
        else: keep
  crm.deals:
    target: crm.opportunities
    new_keys: sequence
    columns:
      title: {from: name}
      stage:
        from: stage
        map: {lead: new, won: closed_won, lost: closed_lost}
        else: error
  crm.tasks:
    new_keys: sequence
  crm.notes:
    new_keys: sequence
    columns:
      opportunity_id: {from: deal_id}
)";

// The target's largest key per table before the merge: every row at or below it is the other
// tenant's, every row above it was written by the merge.
struct TargetTable {
  const char* name;
  int before_max;
};
constexpr TargetTable kTargetTables[] = {{"organizations", 500}, {"companies", 120}, {"contacts", 1000},
                                         {"opportunities", 700}, {"tasks", 800},      {"notes", 900}};

// What each moved table should hold, as rows of natural keys, computed on the source; and what
// the target holds among the rows the merge wrote, in the same form.
struct Expectation {
  const char* table;
  const char* expected_on_source;
  const char* written_on_target;
};
const Expectation kExpectations[] = {
    {"organizations", "SELECT ROW(900, o.name)::text FROM crm.organizations o WHERE o.id = 1",
     "SELECT ROW(o.id, o.name)::text FROM crm.organizations o WHERE o.id > 500"},
    {"companies",
     "SELECT ROW(c.name, 900, o.name, CASE c.sector WHEN 'tech' THEN 'technology' WHEN 'fin' THEN 'finance' "
     "ELSE c.sector END, c.pad)::text FROM crm.companies c JOIN crm.organizations o ON o.id = c.org_id "
     "WHERE c.org_id = 1",
     "SELECT ROW(c.name, c.org_id, o.name, c.sector, c.pad)::text FROM crm.companies c "
     "LEFT JOIN crm.organizations o ON o.id = c.org_id WHERE c.id > 120"},
    {"contacts",
     "SELECT ROW(c.email, co.name, m.email, CASE c.status WHEN 'lead' THEN 'prospect' WHEN 'customer' "
     "THEN 'client' ELSE c.status END, c.pad)::text FROM crm.contacts c JOIN crm.companies co ON co.id = "
     "c.company_id LEFT JOIN crm.contacts m ON m.id = c.manager_id WHERE co.org_id = 1",
     "SELECT ROW(c.email, co.name, m.email, c.status, c.pad)::text FROM crm.contacts c "
     "LEFT JOIN crm.companies co ON co.id = c.company_id LEFT JOIN crm.contacts m ON m.id = c.manager_id "
     "WHERE c.id > 1000"},
    {"opportunities",
     "SELECT ROW(d.name, co.name, CASE d.stage WHEN 'lead' THEN 'new' WHEN 'won' THEN 'closed_won' "
     "WHEN 'lost' THEN 'closed_lost' END, d.amount, d.pad)::text FROM crm.deals d "
     "JOIN crm.companies co ON co.id = d.company_id WHERE co.org_id = 1",
     "SELECT ROW(o.title, co.name, o.stage, o.amount, o.pad)::text FROM crm.opportunities o "
     "LEFT JOIN crm.companies co ON co.id = o.company_id WHERE o.id > 700"},
    {"tasks",
     "SELECT ROW(t.text, c.email, t.done, t.pad)::text FROM crm.tasks t JOIN crm.contacts c ON c.id = "
     "t.contact_id JOIN crm.companies co ON co.id = c.company_id WHERE co.org_id = 1",
     "SELECT ROW(t.text, c.email, t.done, t.pad)::text FROM crm.tasks t "
     "LEFT JOIN crm.contacts c ON c.id = t.contact_id WHERE t.id > 800"},
    {"notes",
     "SELECT ROW(n.text, d.name, n.pad)::text FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id "
     "JOIN crm.companies co ON co.id = d.company_id WHERE co.org_id = 1",
     "SELECT ROW(n.text, o.title, n.pad)::text FROM crm.notes n "
     "LEFT JOIN crm.opportunities o ON o.id = n.opportunity_id WHERE n.id > 900"},
};

std::vector<std::string> sorted_rows(const pg::Result& result) {
  std::vector<std::string> rows;
  for (int i = 0; i < result.rows(); ++i) rows.push_back(result.is_null(i, 0) ? "<NULL>" : result.text(i, 0));
  std::sort(rows.begin(), rows.end());
  return rows;
}

// The rows of one side the other lacks, at most a few, for a readable failure.
std::string rows_missing_from(const std::vector<std::string>& from, const std::vector<std::string>& in) {
  std::vector<std::string> missing;
  std::set_difference(from.begin(), from.end(), in.begin(), in.end(), std::back_inserter(missing));
  std::ostringstream out;
  out << missing.size() << " rows";
  for (size_t i = 0; i < missing.size() && i < 5; ++i) out << "\n    " << missing[i];
  return out.str();
}

// Whether some line of the output names the table and says it was not compared.
bool says_not_compared(const RunResult& run, const std::string& table) {
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"crm\".\"" + table + "\"") != std::string::npos && line.find("not compared") != std::string::npos) {
      return true;
    }
  }
  return false;
}

class IndependentMergeTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(kSource);
    target_sql(kTarget);
    file_ = "/tmp/pgblit-independent-merge-" + db_ + ".yaml";
    std::ofstream(file_) << kMapping;
  }
  void TearDown() override { std::remove(file_.c_str()); }

  // Every row the target held before, as text, table by table, in key order.
  std::string other_tenant() {
    std::string all;
    for (const auto& table : kTargetTables) {
      all += target_value("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) FROM crm." +
                          std::string(table.name) + " t WHERE t.id <= " + std::to_string(table.before_max));
      all += ' ';
    }
    return all;
  }
  RunResult verify(const std::vector<std::string>& how) {
    std::vector<std::string> args{"verify", "--source", source_url(), "--target", target_url()};
    args.insert(args.end(), how.begin(), how.end());
    return run_pgblit(args);
  }
  std::string file_;
};

TEST_F(IndependentMergeTest, dry_run_of_the_merge_is_go) {
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "crm",
                          "--on-existing", "append", "--chunk-size", "64kB", "--estimate-seconds", "0"});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
}

TEST_F(IndependentMergeTest, one_tenant_merges_beside_another_and_every_reference_follows) {
  const std::string theirs_before = other_tenant();
  auto run = copy({"--mapping", file_, "-n", "crm", "--on-existing", "append", "--chunk-size", "64kB", "-j", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string run_id = target_value("SELECT max(id) FROM pgblit.runs");
  ASSERT_FALSE(run_id.empty());

  // Precondition of the test: the children were cut into several chunks each.
  for (const char* table : {"opportunities", "tasks", "notes"}) {
    EXPECT_GT(std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE run_id = " + run_id +
                                     " AND target_table = '\"crm\".\"" + table + "\"'")),
              1)
        << table << ": chunks too large to split parents from children";
  }
  for (const char* table : {"companies", "contacts", "opportunities", "tasks", "notes"}) {
    EXPECT_FALSE(says_not_compared(run, table)) << table << ": a merged table with a copied key is compared\n"
                                                << run.output;
  }

  // The other tenant is byte-identical, and no row of it was changed, added under its keys or lost.
  EXPECT_EQ(other_tenant(), theirs_before);

  // Every moved row is there once, with every reference pointing at the row it pointed at on the
  // source; nothing of tenant 2 came along.
  for (const auto& expectation : kExpectations) {
    auto expected = sorted_rows(source_sql(expectation.expected_on_source));
    auto written = sorted_rows(target_sql(expectation.written_on_target));
    EXPECT_FALSE(expected.empty()) << expectation.table;
    EXPECT_EQ(written.size(), expected.size()) << expectation.table;
    EXPECT_TRUE(written == expected) << "crm." << expectation.table << ":\n  expected, not on the target: "
                                     << rows_missing_from(expected, written)
                                     << "\n  on the target, not expected: " << rows_missing_from(written, expected);
  }

  // New keys come from above both the target's largest key and its sequence (contacts: 1500).
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contacts WHERE id > 1000 AND id <= 1500"), "0");
  // Dense new keys (docs/mapping.md): as many as rows moved, consecutive, in source key order.
  EXPECT_EQ(target_value("SELECT (max(new_key::bigint) - min(new_key::bigint) + 1 = count(*))::text || ' ' || "
                         "count(*) FILTER (WHERE o <> n) FROM (SELECT new_key, row_number() OVER (ORDER BY old_key::bigint) o, "
                         "row_number() OVER (ORDER BY new_key::bigint) n FROM pgblit.key_map WHERE run_id = " + run_id +
                         " AND target_table = '\"crm\".\"opportunities\"') s"),
            "true 0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.key_map WHERE run_id = " + run_id +
                         " AND target_table = '\"crm\".\"opportunities\"'"),
            source_value("SELECT count(*) FROM crm.deals d JOIN crm.companies c ON c.id = d.company_id "
                         "WHERE c.org_id = 1"));

  // Every sequence hands out keys above every key the tables hold now.
  for (const char* table : {"companies", "contacts", "opportunities", "tasks", "notes"}) {
    std::string sequence = target_value(std::string("SELECT pg_get_serial_sequence('crm.") + table + "', 'id')");
    ASSERT_FALSE(sequence.empty()) << table;
    long long next = std::stoll(
        target_value("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM " + sequence));
    long long max_key = std::stoll(target_value(std::string("SELECT max(id) FROM crm.") + table));
    EXPECT_GT(next, max_key) << sequence;
  }

  // Not promised by the docs (an array of keys is no foreign key): whether deals.contact_ids
  // still name the same contacts. Reported, not asserted.
  auto contact_names = sorted_rows(source_sql(
      "SELECT ROW(d.name, ARRAY(SELECT c.email FROM unnest(d.contact_ids) WITH ORDINALITY u(k, n) "
      "JOIN crm.contacts c ON c.id = u.k ORDER BY u.n))::text FROM crm.deals d "
      "JOIN crm.companies co ON co.id = d.company_id WHERE co.org_id = 1"));
  auto contact_names_there = sorted_rows(target_sql(
      "SELECT ROW(o.title, ARRAY(SELECT c.email FROM unnest(o.contact_ids) WITH ORDINALITY u(k, n) "
      "JOIN crm.contacts c ON c.id = u.k ORDER BY u.n))::text FROM crm.opportunities o WHERE o.id > 700"));
  std::printf("[ NOTE     ] opportunities.contact_ids (bigint[], not a foreign key): %s\n",
              contact_names == contact_names_there ? "still name the same contacts"
                                                   : "copied as they were: they name other contacts now");

  // verify, by the copy's own plan (docs/mapping.md#verified): by run id, and by the mapping file.
  auto by_run = verify({"--run", run_id});
  EXPECT_EQ(by_run.exit_code, 0) << by_run.output;
  auto by_mapping = verify({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(by_mapping.exit_code, 0) << by_mapping.output;

  // A wrong reference planted on the target: one moved note now points at another moved deal.
  const std::string note_source_key = source_value(
      "SELECT min(n.id) FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id "
      "JOIN crm.companies co ON co.id = d.company_id WHERE co.org_id = 1");
  const std::string note_text = source_value("SELECT text FROM crm.notes WHERE id = " + note_source_key);
  const std::string note_target_key = target_value("SELECT id FROM crm.notes WHERE text = '" + note_text + "'");
  ASSERT_FALSE(note_target_key.empty());
  target_sql("UPDATE crm.notes SET opportunity_id = (SELECT min(o.id) FROM crm.opportunities o WHERE o.id > 700 "
             "AND o.id <> (SELECT opportunity_id FROM crm.notes WHERE id = " + note_target_key + ")) WHERE id = " +
             note_target_key);
  auto tampered_by_run = verify({"--run", run_id});
  EXPECT_EQ(tampered_by_run.exit_code, 3) << tampered_by_run.output;
  EXPECT_TRUE(mentions(tampered_by_run, "changed: " + note_target_key + " (source key " + note_source_key + ")"))
      << tampered_by_run.output;
  auto tampered_by_mapping = verify({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(tampered_by_mapping.exit_code, 3) << tampered_by_mapping.output;
}

}  // namespace
}  // namespace pgblit::test
