-- Benchmark dataset: schema bench, about 1.1 GB at scale 1, one table much larger than the rest.
-- psql -v scale=N
\set ON_ERROR_STOP 1
\if :{?scale} \else \set scale 1 \endif
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.regions (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE bench.products (sku text PRIMARY KEY, title text, price numeric(10,2), tags text[]);
CREATE TABLE bench.accounts (id bigint PRIMARY KEY, region_id int, email text, balance numeric(14,2),
  opened_at timestamptz, profile jsonb);
CREATE TABLE bench.ledger (id bigint PRIMARY KEY, account_id bigint, at timestamptz, amount numeric(12,2),
  kind smallint, memo text, ref uuid, blob bytea);
INSERT INTO bench.regions SELECT g, 'region ' || g FROM generate_series(1, 100) g;
INSERT INTO bench.products SELECT 'SKU-' || g, 'product ' || md5(g::text), g % 1000 + 0.99, ARRAY['a' || g % 7, 'b' || g % 3]
  FROM generate_series(1, 50000) g;
INSERT INTO bench.accounts SELECT g, g % 100, 'user' || g || '@example.com', (g % 100000) / 100.0,
  '2020-01-01'::timestamptz + g * interval '1 minute', jsonb_build_object('tier', g % 5, 'n', g)
  FROM generate_series(1, 500000 * :scale) g;
INSERT INTO bench.ledger SELECT g, g % (500000 * :scale), '2024-01-01'::timestamptz + g * interval '1 second',
  (g % 100000) / 100.0, (g % 9)::smallint, 'memo ' || md5(g::text), md5(g::text)::uuid, decode(md5((g * 7)::text), 'hex')
  FROM generate_series(1, 7000000 * :scale) g;
VACUUM ANALYZE;
SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c
  WHERE c.relnamespace = 'bench'::regnamespace AND c.relkind = 'r' ORDER BY 1;
