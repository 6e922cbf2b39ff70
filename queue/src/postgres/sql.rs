//! The schema and every statement of the PostgreSQL backend.
//!
//! Statements name tables without a schema: each connection's
//! `search_path` is the store's schema. Times are milliseconds since the
//! Unix epoch as `bigint`, always the caller's `now`; `now()` is never used
//! for a decision, so every node's clock is its own business and tests run
//! on a simulated clock.

/// The schema version this build creates and understands.
pub(super) const SCHEMA_VERSION: i32 = 1;

/// Serializes concurrent `migrate` calls (of any schema) across nodes:
/// `CREATE ... IF NOT EXISTS` alone races. ASCII "postelq".
const MIGRATE_LOCK: i64 = 0x0070_6f73_7465_6c71;

/// The DDL, idempotent, for the (validated, unquoted) schema name. Run in
/// one transaction.
pub(super) fn migration(schema: &str) -> String {
    format!(
        r#"
SELECT pg_advisory_xact_lock({MIGRATE_LOCK});
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS "{schema}".schema_version (version integer NOT NULL);
INSERT INTO "{schema}".schema_version (version)
    SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM "{schema}".schema_version);
-- The sequence part of queue IDs (taken modulo 65536) and lease tokens:
-- both unique across every node sharing the database.
CREATE SEQUENCE IF NOT EXISTS "{schema}".message_ids;
CREATE SEQUENCE IF NOT EXISTS "{schema}".lease_tokens;
CREATE TABLE IF NOT EXISTS "{schema}".messages (
    -- The queue ID: 16 upper-case hex digits that sort by enqueue time.
    id            text COLLATE "C" PRIMARY KEY,
    queued        bigint   NOT NULL,
    -- Scheduling and lifetime columns, copied from the envelope.
    received      bigint   NOT NULL,
    priority      smallint NOT NULL CHECK (priority BETWEEN -9 AND 9),
    hold_until    bigint,
    deliver_by    bigint,
    -- The sender, for queries (see envelope); '%' and NUL as %25 and %00.
    sender        text     NOT NULL,
    -- The whole envelope in the spool's header format (postel-queue-message 1).
    envelope      text     NOT NULL,
    size          bigint   NOT NULL CHECK (size >= 0),
    data          bytea    NOT NULL,
    -- The mutable state.
    attempts      bigint   NOT NULL DEFAULT 0,
    next_attempt  bigint   NOT NULL,
    held          boolean  NOT NULL DEFAULT false,
    delay_warned  boolean  NOT NULL DEFAULT false,
    -- How many recipients are still pending.
    pending       bigint   NOT NULL,
    -- The current lease: set together, cleared together.
    lease_token   bigint,
    leased_by     text,
    lease_expires bigint
);
CREATE INDEX IF NOT EXISTS messages_due ON "{schema}".messages (next_attempt)
    WHERE NOT held AND pending > 0;
CREATE TABLE IF NOT EXISTS "{schema}".recipients (
    message_id text COLLATE "C" NOT NULL
        REFERENCES "{schema}".messages (id) ON DELETE CASCADE,
    -- The recipient's index in the envelope.
    idx        integer NOT NULL CHECK (idx >= 0),
    -- For queries (see the envelope); '%' and NUL as %25 and %00.
    address    text    NOT NULL,
    status     text    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    updated    bigint,
    -- '%' and NUL as %25 and %00.
    last_reply text,
    -- Outcomes recorded for this recipient.
    attempts   bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, idx)
);
"#
    )
}

/// The newest schema version recorded.
pub(super) fn schema_version(schema: &str) -> String {
    format!(r#"SELECT max(version) FROM "{schema}".schema_version"#)
}

/// Run on every new connection: the schema to use ($1, quoted), and
/// `synchronous_commit` on when the server's default turned it off, since a
/// commit must be durable before `enqueue` returns. (`local`,
/// `remote_write` and stronger settings are kept.)
pub(super) const SET_UP_CONNECTION: &str = "SELECT set_config('search_path', $1, false), \
     CASE WHEN current_setting('synchronous_commit') = 'off' \
     THEN set_config('synchronous_commit', 'on', false) END";

/// A name for this store's leases, unique among all nodes.
pub(super) const NEW_OWNER: &str = "SELECT gen_random_uuid()::text";

pub(super) const NEXT_ID: &str = "SELECT nextval('message_ids')";

/// $1 id, $2 queued, $3 received, $4 priority, $5 hold_until,
/// $6 deliver_by, $7 sender, $8 envelope, $9 size, $10 data,
/// $11 next_attempt, $12 the recipients' addresses. Inserts nothing if the
/// ID is taken.
pub(super) const ENQUEUE: &str = "\
WITH message AS (
    INSERT INTO messages (id, queued, received, priority, hold_until, deliver_by,
                          sender, envelope, size, data, next_attempt, pending)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, cardinality($12::text[]))
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO recipients (message_id, idx, address)
SELECT message.id, (r.ord - 1)::integer, r.address
FROM message, unnest($12::text[]) WITH ORDINALITY AS r (address, ord)";

/// $1 now, $2 how many, $3 owner, $4 expiry. Rows another transaction has
/// locked (being leased, recorded or deleted by another node) are skipped
/// rather than waited for; rows a concurrent lease committed meanwhile are
/// re-checked against the conditions after locking, so they drop out.
pub(super) const LEASE: &str = "\
WITH due AS (
    SELECT id FROM messages
    WHERE NOT held AND pending > 0 AND next_attempt <= $1
      AND (hold_until IS NULL OR hold_until <= $1)
      AND (lease_token IS NULL OR lease_expires <= $1)
    ORDER BY priority DESC, queued, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE messages AS m
SET lease_token = nextval('lease_tokens'), leased_by = $3, lease_expires = $4
FROM due
WHERE m.id = due.id
RETURNING m.id, m.lease_token, m.envelope, m.queued, m.size, m.attempts, m.delay_warned,
          m.priority";

/// $1 message IDs. Run after `LEASE`, in its transaction: a statement of its
/// own sees every change committed before the lease locked the rows.
pub(super) const PENDING_OF: &str = "\
SELECT message_id, idx FROM recipients
WHERE message_id = ANY($1) AND status = 'pending'
ORDER BY message_id, idx";

/// $1 id: locks the message for `record`.
pub(super) const LOCK_MESSAGE: &str = "SELECT lease_token FROM messages WHERE id = $1 FOR UPDATE";

/// $1 id.
pub(super) const RECIPIENT_STATUSES: &str =
    "SELECT idx, status FROM recipients WHERE message_id = $1 ORDER BY idx";

/// $1 id, $2 indices, $3 statuses, $4 now, $5 replies, $6 outcomes per
/// index, $7 pending count afterwards.
pub(super) const RECORD: &str = "\
WITH changed AS (
    UPDATE recipients AS r
    SET status = u.status, updated = $4, last_reply = u.reply, attempts = r.attempts + u.n
    FROM unnest($2::integer[], $3::text[], $5::text[], $6::bigint[]) AS u (idx, status, reply, n)
    WHERE r.message_id = $1 AND r.idx = u.idx
    RETURNING 1
)
UPDATE messages SET pending = $7 WHERE id = $1";

/// $1 id, $2 token, $3 next attempt, $4 delay report sent.
pub(super) const DEFER: &str = "\
UPDATE messages
SET lease_token = NULL, leased_by = NULL, lease_expires = NULL,
    attempts = LEAST(attempts + 1, 4294967295), next_attempt = $3,
    delay_warned = delay_warned OR $4
WHERE id = $1 AND lease_token = $2";

/// $1 id, $2 token.
pub(super) const UNLEASE: &str = "\
UPDATE messages SET lease_token = NULL, leased_by = NULL, lease_expires = NULL
WHERE id = $1 AND lease_token = $2";

/// $1 id, $2 token, $3 new expiry.
pub(super) const RENEW: &str =
    "UPDATE messages SET lease_expires = $3 WHERE id = $1 AND lease_token = $2";

/// $1 id.
pub(super) const EXISTS: &str = "SELECT 1 FROM messages WHERE id = $1";

/// $1 id.
pub(super) const READ_DATA: &str = "SELECT data, size FROM messages WHERE id = $1";

/// $1 id; the recipients go with it (ON DELETE CASCADE).
pub(super) const DELETE: &str = "DELETE FROM messages WHERE id = $1";

macro_rules! info_select {
    () => {
        "\
SELECT m.id, m.envelope, m.queued, m.size, m.attempts, m.next_attempt, m.held,
       m.delay_warned, m.lease_expires,
       ARRAY(SELECT r.status FROM recipients AS r WHERE r.message_id = m.id ORDER BY r.idx),
       ARRAY(SELECT r.updated FROM recipients AS r WHERE r.message_id = m.id ORDER BY r.idx),
       ARRAY(SELECT r.last_reply FROM recipients AS r WHERE r.message_id = m.id ORDER BY r.idx)
FROM messages AS m"
    };
}

/// Every message, by ID.
pub(super) const LIST: &str = concat!(info_select!(), " ORDER BY m.id");

/// $1 id.
pub(super) const INSPECT: &str = concat!(info_select!(), " WHERE m.id = $1");

/// $1 id, $2 held.
pub(super) const SET_HELD: &str = "UPDATE messages SET held = $2 WHERE id = $1";

/// $1 id, $2 now.
pub(super) const FORCE_RETRY: &str =
    "UPDATE messages SET next_attempt = LEAST(next_attempt, $2) WHERE id = $1";

/// $1 now. Locks in ID order, so two of these never deadlock.
pub(super) const FORCE_RETRY_ALL: &str = "\
UPDATE messages SET next_attempt = $1
WHERE next_attempt > $1
  AND id IN (SELECT id FROM messages WHERE next_attempt > $1 ORDER BY id FOR UPDATE)";
