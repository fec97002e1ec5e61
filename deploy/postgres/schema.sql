-- peerlab-bootstrap: schema of the shared PostgreSQL store, version 2.
--
-- peerlab-bootstrap applies this file itself (it is compiled into the
-- binary) when it starts on a database without peerlab.schema_version, in
-- one transaction under an advisory lock, so replicas starting together
-- apply it once. To apply it by hand instead (e.g. when the server's role
-- may not create schemas):
--
--   psql -1 -v ON_ERROR_STOP=1 -d peerlab -f deploy/postgres/schema.sql
--
-- Versioning: a later change adds a migration from version N to N+1 to the
-- server and a row to peerlab.schema_version. A server refuses a database
-- whose newest schema_version is above the one it was built for.
--
-- Version 2 (entry ownership, issue 13): the same tables; the document's
-- peers carry "first_seen_at" and "owner_secret_sha256" (base64 SHA-256 of
-- the entry's secret, never the secret). Migration 1 -> 2 only records the
-- version: entries stored under version 1 have no owner secret, so only the
-- admin token (or their lease running out) removes or changes them. A
-- version-1 server refuses a version-2 database instead of misreading it.
--
-- The document row (id 1) is created by the server with its --max-peers /
-- --min-refill-candidates when it is missing. Each change is one UPDATE of
-- that row under SELECT ... FOR UPDATE, followed by
-- pg_notify('peerlab_bootstrap', '<new revision>').

CREATE SCHEMA IF NOT EXISTS peerlab;

CREATE TABLE IF NOT EXISTS peerlab.schema_version (
  version    integer     PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- The bootstrap document: one row. `revision` grows by one with every
-- change; `document` is bootstrap.v1.Document in protobuf's JSON mapping
-- (field names as in bootstrap.proto; its "revision" equals the column).
CREATE TABLE IF NOT EXISTS peerlab.document (
  id         smallint    PRIMARY KEY CHECK (id = 1),
  revision   bigint      NOT NULL CHECK (revision >= 0),
  document   jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO peerlab.schema_version (version) VALUES (2)
  ON CONFLICT (version) DO NOTHING;
