-- A dataset modelled on the migrations pgblit serves: a multi-tenant support and warranty
-- application, with enums, jsonb, a primary key on every table, unique keys, a foreign key
-- wherever one table points at another, and an index on every foreign key (as migrations
-- create them). About 1.1 GB of heap + TOAST at scale 1 (psql -v scale=1).
\set ON_ERROR_STOP on
DROP SCHEMA IF EXISTS app CASCADE;
CREATE SCHEMA app;
CREATE TYPE app.user_role AS ENUM ('admin', 'agent', 'technician', 'viewer');
CREATE TYPE app.order_status AS ENUM ('draft', 'placed', 'shipped', 'delivered', 'cancelled');
CREATE TYPE app.item_status AS ENUM ('in_stock', 'reserved', 'installed', 'returned');
CREATE TYPE app.ticket_status AS ENUM ('open', 'pending', 'resolved', 'closed');
CREATE TYPE app.ticket_priority AS ENUM ('low', 'normal', 'high', 'urgent');
CREATE TYPE app.warranty_policy AS ENUM ('manufacturer', 'extended', 'service_plan');

CREATE TABLE app.organizations (id bigint PRIMARY KEY, name text NOT NULL, settings jsonb NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE app.users (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  email text NOT NULL UNIQUE, role app.user_role NOT NULL, profile jsonb, created_at timestamptz NOT NULL);
CREATE TABLE app.customers (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  name text NOT NULL, email text, phone text, address jsonb, created_at timestamptz NOT NULL);
CREATE TABLE app.products (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  sku text NOT NULL, name text NOT NULL, price numeric(12,2) NOT NULL, attributes jsonb, UNIQUE (organization_id, sku));
CREATE TABLE app.orders (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  customer_id bigint NOT NULL REFERENCES app.customers, status app.order_status NOT NULL, total numeric(12,2) NOT NULL,
  placed_at timestamptz NOT NULL);
CREATE TABLE app.inventory_items (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  product_id bigint NOT NULL REFERENCES app.products, serial text NOT NULL UNIQUE, status app.item_status NOT NULL,
  received_at timestamptz NOT NULL);
CREATE TABLE app.support_tickets (id uuid PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  customer_id bigint NOT NULL REFERENCES app.customers, assigned_user_id bigint REFERENCES app.users,
  created_by bigint NOT NULL REFERENCES app.users, product_id bigint REFERENCES app.products,
  order_id bigint REFERENCES app.orders, inventory_item_id bigint REFERENCES app.inventory_items,
  parent_ticket_id uuid REFERENCES app.support_tickets, status app.ticket_status NOT NULL,
  priority app.ticket_priority NOT NULL, subject text NOT NULL, body text NOT NULL, metadata jsonb,
  created_at timestamptz NOT NULL);
CREATE TABLE app.warranties (id bigint PRIMARY KEY, organization_id bigint NOT NULL REFERENCES app.organizations,
  customer_id bigint NOT NULL REFERENCES app.customers, product_id bigint NOT NULL REFERENCES app.products,
  inventory_item_id bigint REFERENCES app.inventory_items, order_id bigint REFERENCES app.orders,
  policy app.warranty_policy NOT NULL, starts_on date NOT NULL, ends_on date NOT NULL);
CREATE TABLE app.warranty_items (id bigint PRIMARY KEY, warranty_id bigint NOT NULL REFERENCES app.warranties,
  organization_id bigint NOT NULL REFERENCES app.organizations, product_id bigint NOT NULL REFERENCES app.products,
  coverage text NOT NULL, amount numeric(12,2) NOT NULL);

-- An index on every foreign key.
CREATE INDEX ON app.users (organization_id);
CREATE INDEX ON app.customers (organization_id);
CREATE INDEX ON app.products (organization_id);
CREATE INDEX ON app.orders (organization_id);
CREATE INDEX ON app.orders (customer_id);
CREATE INDEX ON app.inventory_items (organization_id);
CREATE INDEX ON app.inventory_items (product_id);
CREATE INDEX ON app.support_tickets (organization_id);
CREATE INDEX ON app.support_tickets (customer_id);
CREATE INDEX ON app.support_tickets (assigned_user_id);
CREATE INDEX ON app.support_tickets (created_by);
CREATE INDEX ON app.support_tickets (product_id);
CREATE INDEX ON app.support_tickets (order_id);
CREATE INDEX ON app.support_tickets (inventory_item_id);
CREATE INDEX ON app.support_tickets (parent_ticket_id);
CREATE INDEX ON app.warranties (organization_id);
CREATE INDEX ON app.warranties (customer_id);
CREATE INDEX ON app.warranties (product_id);
CREATE INDEX ON app.warranties (inventory_item_id);
CREATE INDEX ON app.warranties (order_id);
CREATE INDEX ON app.warranty_items (warranty_id);
CREATE INDEX ON app.warranty_items (organization_id);
CREATE INDEX ON app.warranty_items (product_id);

SELECT setseed(0.42);
INSERT INTO app.organizations SELECT g, 'Organization ' || g, jsonb_build_object('plan', 'pro', 'seats', g % 50),
  '2020-01-01'::timestamptz + g * interval '1 day' FROM generate_series(1, 1000) g;
INSERT INTO app.users SELECT g, g % 1000 + 1, 'user' || g || '@example.com', (ARRAY['admin','agent','technician','viewer'])[g % 4 + 1]::app.user_role,
  jsonb_build_object('name', 'User ' || g, 'locale', 'en'), '2021-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 100000 * :scale) g;
INSERT INTO app.customers SELECT g, g % 1000 + 1, 'Customer ' || g, 'c' || g || '@mail.example', '+1-555-' || lpad((g % 10000000)::text, 7, '0'),
  jsonb_build_object('street', g || ' Main St', 'city', 'City ' || (g % 500), 'zip', lpad((g % 99999)::text, 5, '0')),
  '2021-06-01'::timestamptz + g * interval '10 seconds' FROM generate_series(1, 1000000 * :scale) g;
INSERT INTO app.products SELECT g, g % 1000 + 1, 'SKU-' || g, 'Product ' || g, (g % 5000) + 0.99,
  jsonb_build_object('weight', g % 40, 'color', (ARRAY['red','green','blue'])[g % 3 + 1]) FROM generate_series(1, 20000) g;
INSERT INTO app.orders SELECT g, g % 1000 + 1, g % (1000000 * :scale) + 1, (ARRAY['draft','placed','shipped','delivered','cancelled'])[g % 5 + 1]::app.order_status,
  (g % 100000) / 100.0, '2022-01-01'::timestamptz + g * interval '7 seconds' FROM generate_series(1, 1500000 * :scale) g;
INSERT INTO app.inventory_items SELECT g, g % 1000 + 1, g % 20000 + 1, 'SN-' || lpad(g::text, 10, '0'),
  (ARRAY['in_stock','reserved','installed','returned'])[g % 4 + 1]::app.item_status, '2022-03-01'::timestamptz + g * interval '30 seconds'
  FROM generate_series(1, 500000 * :scale) g;
INSERT INTO app.support_tickets SELECT md5('t' || g)::uuid, g % 1000 + 1, g % (1000000 * :scale) + 1,
  CASE WHEN g % 7 = 0 THEN NULL ELSE g % (100000 * :scale) + 1 END, (g * 7) % (100000 * :scale) + 1,
  CASE WHEN g % 3 = 0 THEN NULL ELSE g % 20000 + 1 END, CASE WHEN g % 2 = 0 THEN g % (1500000 * :scale) + 1 END,
  CASE WHEN g % 5 = 0 THEN g % (500000 * :scale) + 1 END, NULL,
  (ARRAY['open','pending','resolved','closed'])[g % 4 + 1]::app.ticket_status, (ARRAY['low','normal','high','urgent'])[g % 4 + 1]::app.ticket_priority,
  'Ticket ' || g || ': inverter fault', repeat('The customer reports an intermittent fault on the unit. ', 10 + g % 8),
  jsonb_build_object('channel', (ARRAY['phone','email','portal'])[g % 3 + 1], 'tags', jsonb_build_array('solar', 'battery')),
  '2023-01-01'::timestamptz + g * interval '40 seconds' FROM generate_series(1, 600000 * :scale) g;
UPDATE app.support_tickets SET parent_ticket_id = md5('t' || (hashtext(id::text) & 1023) + 1)::uuid WHERE hashtext(id::text) % 10 = 0;
INSERT INTO app.warranties SELECT g, g % 1000 + 1, g % (1000000 * :scale) + 1, g % 20000 + 1,
  CASE WHEN g % 2 = 0 THEN g % (500000 * :scale) + 1 END, CASE WHEN g % 3 = 0 THEN g % (1500000 * :scale) + 1 END,
  (ARRAY['manufacturer','extended','service_plan'])[g % 3 + 1]::app.warranty_policy, '2023-01-01'::date + g % 700, '2028-01-01'::date + g % 700
  FROM generate_series(1, 400000 * :scale) g;
INSERT INTO app.warranty_items SELECT g, g % (400000 * :scale) + 1, g % 1000 + 1, g % 20000 + 1,
  (ARRAY['parts','labour','parts and labour'])[g % 3 + 1], (g % 20000) / 10.0 FROM generate_series(1, 800000 * :scale) g;
VACUUM ANALYZE;
SELECT pg_size_pretty(sum(pg_table_size(c.oid))) AS heap_and_toast FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' AND c.relkind = 'r';
