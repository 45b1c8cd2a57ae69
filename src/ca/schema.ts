// The CA's tables in the store (component `ca`). Serials are a primary key: the database itself refuses a
// duplicate, whatever the replicas do. The transparency log's index is a primary key too, and every
// issuance, renewal, revocation and refusal writes its log entry and audit row in the same transaction.
import type { Migration } from '../store/store.ts';

export const CA_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'authorities, certificates, names, tokens, audit, transparency log',
    up: [
      `CREATE TABLE ca_authorities (
        name TEXT PRIMARY KEY,
        parent TEXT,
        key_type TEXT NOT NULL,
        chain_pem TEXT NOT NULL,
        key_sealed TEXT NOT NULL,
        policy TEXT NOT NULL,
        public_url TEXT,
        crl_number BIGINT NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      )`,
      `CREATE TABLE ca_certificates (
        serial TEXT PRIMARY KEY,
        ca TEXT NOT NULL REFERENCES ca_authorities (name),
        sha256 TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        names TEXT NOT NULL,
        profile TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        der TEXT NOT NULL,
        requester TEXT NOT NULL,
        renewed_from TEXT,
        revoked_at TEXT,
        revocation_reason TEXT,
        log_index BIGINT NOT NULL
      )`,
      'CREATE INDEX ca_certificates_ca ON ca_certificates (ca, revoked_at)',
      `CREATE TABLE ca_names (
        name TEXT NOT NULL,
        serial TEXT NOT NULL REFERENCES ca_certificates (serial),
        PRIMARY KEY (name, serial)
      )`,
      `CREATE TABLE ca_tokens (
        id TEXT PRIMARY KEY,
        ca TEXT NOT NULL REFERENCES ca_authorities (name),
        names TEXT NOT NULL,
        profile TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        used_at TEXT
      )`,
      `CREATE TABLE ca_log (
        idx BIGINT PRIMARY KEY,
        leaf_hash TEXT NOT NULL,
        entry TEXT NOT NULL
      )`,
      `CREATE TABLE ca_audit (
        log_index BIGINT PRIMARY KEY REFERENCES ca_log (idx),
        at TEXT NOT NULL,
        ca TEXT,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        requester TEXT NOT NULL,
        serial TEXT,
        reason TEXT
      )`,
      'CREATE TABLE ca_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
    ],
  },
  {
    version: 2,
    name: 'CA generations (rotation with overlap)',
    up: [
      // Every key a CA has had: 'next' (published in the trust bundle, not issuing yet), 'active' (issuing),
      // 'previous' (still trusted and still signing CRLs/OCSP for what it issued), 'retired' (its key destroyed).
      `CREATE TABLE ca_generations (
        ca TEXT NOT NULL REFERENCES ca_authorities (name),
        gen INTEGER NOT NULL,
        chain_pem TEXT NOT NULL,
        key_sealed TEXT,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        crl_number BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (ca, gen)
      )`,
      "INSERT INTO ca_generations (ca, gen, chain_pem, key_sealed, state, created_at, changed_at, crl_number) SELECT name, 1, chain_pem, key_sealed, 'active', created_at, created_at, crl_number FROM ca_authorities",
      'ALTER TABLE ca_authorities ADD COLUMN generation INTEGER NOT NULL DEFAULT 1',
      'ALTER TABLE ca_certificates ADD COLUMN generation INTEGER NOT NULL DEFAULT 1',
    ],
  },
  {
    version: 3,
    name: 'indexes for retention (ca prune)',
    up: [
      'CREATE INDEX ca_certificates_not_after ON ca_certificates (not_after)',
      'CREATE INDEX ca_names_serial ON ca_names (serial)',
      'CREATE INDEX ca_tokens_expires ON ca_tokens (expires_at)',
    ],
  },
];
