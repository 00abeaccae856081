-- A small shop: several tables, types and relationships, for the demo. psql -v rows=N (default 100000).
\set ON_ERROR_STOP 1
\if :{?rows} \else \set rows 100000 \endif
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;
CREATE TYPE shop.order_status AS ENUM ('new', 'paid', 'shipped', 'returned');
CREATE TABLE shop.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE, name text, balance numeric(12,2), tags text[], profile jsonb,
  signed_up timestamptz NOT NULL DEFAULT now());
CREATE TABLE shop.products (
  sku text PRIMARY KEY, title text NOT NULL, price numeric(10,2) NOT NULL, weight_kg real, photo bytea);
CREATE TABLE shop.orders (
  id uuid PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers(id), status shop.order_status NOT NULL,
  placed_at timestamptz NOT NULL, delivery_window tstzrange, total numeric(12,2));
CREATE TABLE shop.order_lines (
  order_id uuid NOT NULL REFERENCES shop.orders(id), line smallint NOT NULL, sku text NOT NULL REFERENCES shop.products(sku),
  quantity int NOT NULL, PRIMARY KEY (order_id, line));
CREATE TABLE shop.page_views (viewed_at timestamptz, path text, referrer text, ms double precision);  -- no key
CREATE SEQUENCE shop.invoice_number START 1000;
INSERT INTO shop.products SELECT 'SKU-' || g, 'Product ' || g, (g % 500) + 0.99, g / 10.0, decode(md5(g::text), 'hex')
  FROM generate_series(1, 1000) g;
INSERT INTO shop.customers (email, name, balance, tags, profile, signed_up)
  SELECT 'user' || g || '@example.com', 'Customer ' || g, (g % 10000) / 100.0, ARRAY['t' || g % 5, 'u' || g % 7],
         jsonb_build_object('age', 18 + g % 60, 'vip', g % 10 = 0), '2024-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, :rows) g;
INSERT INTO shop.orders SELECT md5('o' || g)::uuid, 1 + g % :rows, (ARRAY['new','paid','shipped','returned']::shop.order_status[])[1 + g % 4],
         '2025-01-01'::timestamptz + g * interval '1 second',
         tstzrange('2025-02-01'::timestamptz + g * interval '1 hour', '2025-02-01'::timestamptz + (g + 4) * interval '1 hour'),
         (g % 1000) + 0.5
  FROM generate_series(1, :rows) g;
INSERT INTO shop.order_lines SELECT md5('o' || g)::uuid, l, 'SKU-' || (1 + (g * l) % 1000), 1 + l FROM generate_series(1, :rows) g, generate_series(1, 3) l;
INSERT INTO shop.page_views SELECT now() - g * interval '1 second', '/p/' || g % 1000, CASE WHEN g % 3 = 0 THEN NULL ELSE 'https://ref/' || g % 17 END, g * 0.25
  FROM generate_series(1, :rows * 2) g;
SELECT nextval('shop.invoice_number') FROM generate_series(1, 42) \g /dev/null
ANALYZE;
