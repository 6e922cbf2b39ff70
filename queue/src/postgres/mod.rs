//! The PostgreSQL backend (feature `postgres`): [`PgStore`], a queue in a
//! database that several nodes share.
//!
//! Messages, their envelopes, bodies and delivery state live in two tables
//! of one schema (see [`PgStore::migrate`]). Every change is a committed
//! transaction before its call returns, so `enqueue` is durable when it
//! returns; PostgreSQL's WAL writer groups the commits of concurrent
//! callers (tune with `commit_delay` and `commit_siblings`).
//!
//! Leasing locks due rows with `FOR UPDATE SKIP LOCKED` and marks them with
//! a lease token from a database sequence, so nodes that lease at the same
//! time get disjoint work and never wait for each other; every later change
//! under a lease checks its token, so a node whose expired lease another
//! node took over gets [`MisuseError::LeaseLost`], as with the other stores.
//!
//! Unlike the built-in stores, leases are in the database and outlive the
//! process: the work of a node that stopped without ending its leases is
//! handed out again when they expire.

mod pool;
mod sql;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::codec::{self, MessageHeader};
use crate::envelope::Envelope;
use crate::error::{CorruptError, MisuseError, QueueError, StorageError};
use crate::id::QueueId;
use crate::schedule::WorkKey;
use crate::state::{
    Deferral, Lease, LeaseRequest, MessageInfo, MessageState, Outcome, RecipientOutcome,
    RecipientState, RecipientStatus,
};
use crate::store::QueueStore;
use crate::time::Timestamp;
use pool::{GetError, Pool};

/// How a [`PgStore`] uses its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The schema that holds the queue's tables (default `postel_queue`):
    /// 1 to 63 lower-case ASCII letters, digits and underscores, not
    /// starting with a digit or `pg_`. Nodes sharing a queue use the same
    /// schema; one database can hold several queues in several schemas.
    pub schema: String,
    /// The most connections this store opens at once (default 8). Each
    /// call uses one for its duration; calls beyond the limit wait.
    pub max_connections: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: "postel_queue".to_owned(),
            max_connections: 8,
        }
    }
}

/// A failure of the PostgreSQL backend, carried as the source of a
/// [`StorageError::Io`] (whose `path` is `postgres:<schema>`): downcast the
/// `io::Error`'s inner error to this type to see the database's error.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The database or the connection to it failed.
    #[error("PostgreSQL: {op} failed")]
    Database {
        /// What the store was doing (`connect`, `enqueue`, `lease`, ...).
        op: &'static str,
        /// The client's error, with the server's SQLSTATE if it sent one.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Eight queue IDs in a row were taken: the ID sequence is far behind
    /// the IDs in the table (restored from an older backup?).
    #[error("PostgreSQL: no free queue ID")]
    NoFreeId,
    /// The pool's semaphore was closed.
    #[error("PostgreSQL: the connection pool is closed")]
    PoolClosed,
}

/// A [`QueueStore`] in PostgreSQL, for several nodes sharing one queue.
///
/// Create it with [`PgStore::connect`] inside a Tokio runtime (each
/// connection's I/O runs as a task on the runtime that opened it), then
/// call [`PgStore::migrate`] once (it is idempotent). Each instance leases
/// under an owner name of its own ([`PgStore::owner`]), recorded in the
/// `leased_by` column.
///
/// Limits: times are stored as `bigint` milliseconds, so scheduling times
/// beyond the year 292 million are stored as that year; message texts are
/// `text` columns, in which `%` and NUL are stored as `%25` and `%00`.
pub struct PgStore {
    pool: Pool,
    schema: String,
    owner: String,
    /// `postgres:<schema>`, the `path` of storage errors.
    location: PathBuf,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("owner", &self.owner)
            .field("max_connections", &self.pool.max())
            .finish_non_exhaustive()
    }
}

fn valid_schema(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && !b[0].is_ascii_digit()
        && !name.starts_with("pg_")
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn validate(envelope: &Envelope) -> Result<(), MisuseError> {
    if envelope.recipients.is_empty() {
        return Err(MisuseError::NoRecipients);
    }
    if !(-9..=9).contains(&envelope.priority) {
        return Err(MisuseError::BadPriority(envelope.priority));
    }
    Ok(())
}

/// A time as stored: milliseconds, capped at `i64::MAX`.
fn db_time(t: Timestamp) -> i64 {
    i64::try_from(t.unix_millis()).unwrap_or(i64::MAX)
}

fn db_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `text` cannot hold NUL: it is stored as `%00`, and `%` as `%25` so that
/// the mapping reverses.
fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', '%']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn unescape_text(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        out.push(match rest.get(i + 1..i + 3)? {
            "00" => '\0',
            "25" => '%',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn status_text(status: RecipientStatus) -> &'static str {
    match status {
        RecipientStatus::Pending => "pending",
        RecipientStatus::Delivered => "delivered",
        RecipientStatus::Failed => "failed",
    }
}

fn parse_status(s: &str) -> Option<RecipientStatus> {
    match s {
        "pending" => Some(RecipientStatus::Pending),
        "delivered" => Some(RecipientStatus::Delivered),
        "failed" => Some(RecipientStatus::Failed),
        _ => None,
    }
}

/// A lease token as stored; tokens are positive, so one that does not fit
/// never matches.
fn db_token(lease: &Lease) -> i64 {
    i64::try_from(lease.token).unwrap_or(-1)
}

impl PgStore {
    /// Connects to the database named by `params`, a libpq-style
    /// connection string (`host=127.0.0.1 port=5432 user=postel
    /// dbname=mail`) or URL (`postgresql://postel@127.0.0.1/mail`), without
    /// TLS. Opens one connection to check the server and to name this
    /// store's leases; more are opened as calls need them. A connect
    /// timeout of 10 seconds applies unless the string sets one.
    ///
    /// Needs PostgreSQL 13 or later, and a Tokio runtime.
    pub async fn connect(params: &str, options: PgOptions) -> Result<PgStore, QueueError> {
        let mut config = tokio_postgres::Config::from_str(params)
            .map_err(|_| MisuseError::InvalidConfig("not a PostgreSQL connection string or URL"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if !valid_schema(&options.schema) {
            return Err(MisuseError::InvalidConfig(
                "the schema name must be 1 to 63 lower-case ASCII letters, digits and \
                 underscores, not starting with a digit or pg_",
            )
            .into());
        }
        if options.max_connections == 0 {
            return Err(MisuseError::InvalidConfig("max_connections must be at least 1").into());
        }
        let search_path = format!("\"{}\"", options.schema);
        let mut store = PgStore {
            pool: Pool::new(config, search_path, options.max_connections),
            location: PathBuf::from(format!("postgres:{}", options.schema)),
            schema: options.schema,
            owner: String::new(),
        };
        let owner = {
            let conn = store.conn("connect").await?;
            let row = conn
                .client
                .query_one(sql::NEW_OWNER, &[])
                .await
                .map_err(|e| store.db("connect", e))?;
            row.try_get::<_, String>(0)
                .map_err(|e| store.db("connect", e))?
        };
        store.owner = owner;
        Ok(store)
    }

    /// Creates the schema, its tables, indexes and sequences if they are
    /// missing: safe to call on every start, from several nodes at once.
    ///
    /// Fails with [`CorruptError`] if the schema was made by a newer
    /// version of this crate.
    ///
    /// ```text
    /// messages   (id text PRIMARY KEY, queued, received, priority, hold_until,
    ///             deliver_by, sender, envelope text, size, data bytea,
    ///             attempts, next_attempt, held, delay_warned, pending,
    ///             lease_token, leased_by, lease_expires)
    /// recipients (message_id REFERENCES messages ON DELETE CASCADE, idx,
    ///             address, status, updated, last_reply, attempts)
    /// ```
    pub async fn migrate(&self) -> Result<(), QueueError> {
        const OP: &str = "migrate";
        let mut conn = self.conn(OP).await?;
        let tx = conn
            .client
            .transaction()
            .await
            .map_err(|e| self.db(OP, e))?;
        tx.batch_execute(&sql::migration(&self.schema))
            .await
            .map_err(|e| self.db(OP, e))?;
        let version_sql = sql::schema_version(&self.schema);
        let row = tx
            .query_one(version_sql.as_str(), &[])
            .await
            .map_err(|e| self.db(OP, e))?;
        let version: Option<i32> = row.try_get(0).map_err(|e| self.db(OP, e))?;
        match version {
            Some(v) if v > sql::SCHEMA_VERSION => Err(CorruptError::BadFile {
                path: self.location.join("schema_version"),
                line: 0,
                reason: format!(
                    "schema version {v} is newer than this build's {}",
                    sql::SCHEMA_VERSION
                ),
            }
            .into()),
            _ => tx.commit().await.map_err(|e| self.db(OP, e)),
        }
    }

    /// The name under which this store leases (a UUID), unique among the
    /// nodes: the `leased_by` column of the messages it holds.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The schema of the queue's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    async fn conn(&self, op: &'static str) -> Result<pool::Pooled<'_>, QueueError> {
        self.pool.get().await.map_err(|e| match e {
            GetError::Db(e) => self.db(op, e),
            GetError::NoRuntime => {
                MisuseError::InvalidConfig("PgStore must be used inside a Tokio runtime").into()
            }
            GetError::Closed => self.storage(op, io::ErrorKind::Other, PgError::PoolClosed),
        })
    }

    fn storage(&self, op: &'static str, kind: io::ErrorKind, e: PgError) -> QueueError {
        StorageError::Io {
            op,
            path: self.location.clone(),
            source: io::Error::new(kind, e),
        }
        .into()
    }

    /// Maps a database error by its cause: missing tables are the caller's
    /// (no `migrate`), everything else is the storage failing, with an I/O
    /// error kind from the SQLSTATE class.
    fn db(&self, op: &'static str, e: tokio_postgres::Error) -> QueueError {
        let code = e.code().map(|c| c.code());
        if let Some("42P01" | "3F000" | "42703" | "42883") = code {
            // undefined_table, invalid_schema_name, undefined_column,
            // undefined_function (a sequence that is not there).
            return MisuseError::InvalidConfig(
                "the queue's tables are missing or out of date: run PgStore::migrate",
            )
            .into();
        }
        let kind = match code {
            _ if e.is_closed() => io::ErrorKind::ConnectionAborted,
            Some(c) if c.starts_with("08") || c.starts_with("57") => {
                io::ErrorKind::ConnectionAborted
            }
            Some("53100") => io::ErrorKind::StorageFull,
            Some("53200") => io::ErrorKind::OutOfMemory,
            Some("57014") => io::ErrorKind::TimedOut,
            None => io::ErrorKind::ConnectionAborted,
            Some(_) => io::ErrorKind::Other,
        };
        self.storage(op, kind, PgError::Database { op, source: e })
    }

    fn corrupt(&self, id: &str, reason: impl Into<String>) -> QueueError {
        CorruptError::BadFile {
            path: self.location.join("messages").join(id),
            line: 0,
            reason: reason.into(),
        }
        .into()
    }

    /// A column, or a [`CorruptError`] naming it.
    fn col<'a, T: FromSql<'a>>(&self, row: &'a Row, i: usize, id: &str) -> Result<T, QueueError> {
        row.try_get(i).map_err(|e| {
            let name = row.columns().get(i).map_or("?", |c| c.name());
            self.corrupt(id, format!("column {name}: {e}"))
        })
    }

    fn time(&self, v: i64, id: &str) -> Result<Timestamp, QueueError> {
        u64::try_from(v)
            .map(Timestamp::from_unix_millis)
            .map_err(|_| self.corrupt(id, format!("negative time {v}")))
    }

    fn unsigned<T: TryFrom<i64>>(&self, v: i64, id: &str) -> Result<T, QueueError> {
        T::try_from(v).map_err(|_| self.corrupt(id, format!("{v} is out of range")))
    }

    fn envelope(&self, text: &str, id: &str) -> Result<Envelope, QueueError> {
        let header = codec::decode_message_header(text).map_err(|e| CorruptError::BadFile {
            path: self.location.join("messages").join(id),
            line: e.line,
            reason: format!("envelope: {}", e.reason),
        })?;
        if header.id.to_string() != id {
            return Err(self.corrupt(id, format!("the envelope is that of {}", header.id)));
        }
        Ok(header.envelope)
    }

    /// Tells a message that is gone from a lease that is not held, after a
    /// change under the lease matched no row.
    async fn lease_error(&self, conn: &mut pool::Pooled<'_>, lease: &Lease) -> QueueError {
        const OP: &str = "check a lease";
        let id = lease.id.to_string();
        let exists = match conn.prepare(sql::EXISTS).await {
            Ok(s) => conn.client.query_opt(&s, &[&id]).await,
            Err(e) => Err(e),
        };
        match exists {
            Ok(Some(_)) => MisuseError::LeaseLost(lease.id).into(),
            Ok(None) => MisuseError::UnknownMessage(lease.id).into(),
            Err(e) => self.db(OP, e),
        }
    }

    /// `record`, and with `remove` the row's removal in the same
    /// transaction once nothing is pending (`complete`).
    async fn record_outcomes(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
        remove: bool,
    ) -> Result<usize, QueueError> {
        const OP: &str = "record";
        let id = lease.id.to_string();
        let mut conn = self.conn(OP).await?;
        let lock = conn
            .prepare(sql::LOCK_MESSAGE)
            .await
            .map_err(|e| self.db(OP, e))?;
        let statuses = conn
            .prepare(sql::RECIPIENT_STATUSES)
            .await
            .map_err(|e| self.db(OP, e))?;
        let update = conn
            .prepare(sql::RECORD)
            .await
            .map_err(|e| self.db(OP, e))?;
        let delete = if remove {
            Some(
                conn.prepare(sql::DELETE)
                    .await
                    .map_err(|e| self.db(OP, e))?,
            )
        } else {
            None
        };
        let tx = conn
            .client
            .transaction()
            .await
            .map_err(|e| self.db(OP, e))?;
        let row = tx
            .query_opt(&lock, &[&id])
            .await
            .map_err(|e| self.db(OP, e))?
            .ok_or(MisuseError::UnknownMessage(lease.id))?;
        let token: Option<i64> = self.col(&row, 0, &id)?;
        if token != Some(db_token(lease)) {
            return Err(MisuseError::LeaseLost(lease.id).into());
        }
        // Read after the lock: a statement of its own sees every change
        // committed before.
        let mut current = Vec::new();
        for (i, row) in tx
            .query(&statuses, &[&id])
            .await
            .map_err(|e| self.db(OP, e))?
            .iter()
            .enumerate()
        {
            let index: i32 = self.col(row, 0, &id)?;
            let status: &str = self.col(row, 1, &id)?;
            if usize::try_from(index).ok() != Some(i) {
                return Err(self.corrupt(&id, format!("recipient index {index} at {i}")));
            }
            current.push(
                parse_status(status)
                    .ok_or_else(|| self.corrupt(&id, format!("status {status:?}")))?,
            );
        }

        // Check every outcome, in order, before writing any: (status,
        // reply, outcomes) per index.
        let mut changes: BTreeMap<usize, (RecipientStatus, &str, i64)> = BTreeMap::new();
        for o in outcomes {
            let not_leased = MisuseError::NotLeased {
                id: lease.id,
                index: o.index,
            };
            if lease.pending.binary_search(&o.index).is_err() {
                return Err(not_leased.into());
            }
            let status = match current.get_mut(o.index) {
                Some(s) if *s == RecipientStatus::Pending => s,
                _ => return Err(not_leased.into()),
            };
            let (new, reply) = match &o.outcome {
                Outcome::Delivered { reply } => (RecipientStatus::Delivered, reply),
                Outcome::Failed { reply } => (RecipientStatus::Failed, reply),
                Outcome::Deferred { reply } => (RecipientStatus::Pending, reply),
            };
            *status = new;
            let change = changes.entry(o.index).or_insert((new, reply.as_str(), 0));
            *change = (new, reply.as_str(), change.2 + 1);
        }
        let pending = current
            .iter()
            .filter(|&&s| s == RecipientStatus::Pending)
            .count();
        if pending == 0
            && let Some(delete) = &delete
        {
            tx.execute(delete, &[&id])
                .await
                .map_err(|e| self.db(OP, e))?;
            tx.commit().await.map_err(|e| self.db(OP, e))?;
            return Ok(0);
        }
        if changes.is_empty() {
            // Nothing to write; the transaction ends with the lock.
            return Ok(pending);
        }
        let mut indices = Vec::with_capacity(changes.len());
        let mut new_statuses = Vec::with_capacity(changes.len());
        let mut replies = Vec::with_capacity(changes.len());
        let mut counts = Vec::with_capacity(changes.len());
        for (index, (status, reply, n)) in changes {
            indices.push(i32::try_from(index).map_err(|_| MisuseError::NotLeased {
                id: lease.id,
                index,
            })?);
            new_statuses.push(status_text(status));
            replies.push(escape_text(reply));
            counts.push(n);
        }
        let replies: Vec<&str> = replies.iter().map(|r| r.as_ref()).collect();
        tx.execute(
            &update,
            &[
                &id,
                &indices,
                &new_statuses,
                &db_time(now),
                &replies,
                &counts,
                &db_count(pending),
            ],
        )
        .await
        .map_err(|e| self.db(OP, e))?;
        tx.commit().await.map_err(|e| self.db(OP, e))?;
        Ok(pending)
    }

    /// Runs a statement that changes one message by ID; no row means no
    /// such message.
    async fn change(
        &self,
        op: &'static str,
        id: QueueId,
        statement: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), QueueError> {
        let mut conn = self.conn(op).await?;
        let s = conn.prepare(statement).await.map_err(|e| self.db(op, e))?;
        let n = conn
            .client
            .execute(&s, params)
            .await
            .map_err(|e| self.db(op, e))?;
        if n == 0 {
            return Err(MisuseError::UnknownMessage(id).into());
        }
        Ok(())
    }

    /// A row of `LIST` / `INSPECT`.
    fn info(&self, row: &Row, now: Timestamp) -> Result<MessageInfo, QueueError> {
        let id_text: String = self.col(row, 0, "?")?;
        let id_ref = id_text.as_str();
        let id: QueueId = id_text
            .parse()
            .map_err(|_| self.corrupt(id_ref, "not a queue ID"))?;
        let envelope = self.envelope(self.col(row, 1, id_ref)?, id_ref)?;
        let statuses: Vec<String> = self.col(row, 9, id_ref)?;
        let updated: Vec<Option<i64>> = self.col(row, 10, id_ref)?;
        let replies: Vec<Option<String>> = self.col(row, 11, id_ref)?;
        if statuses.len() != envelope.recipients.len()
            || updated.len() != statuses.len()
            || replies.len() != statuses.len()
        {
            return Err(self.corrupt(
                id_ref,
                format!(
                    "{} recipient rows for {} recipients",
                    statuses.len(),
                    envelope.recipients.len()
                ),
            ));
        }
        let mut recipients = Vec::with_capacity(statuses.len());
        for ((status, updated), reply) in statuses.iter().zip(updated).zip(replies) {
            recipients.push(RecipientState {
                status: parse_status(status)
                    .ok_or_else(|| self.corrupt(id_ref, format!("status {status:?}")))?,
                updated: updated.map(|t| self.time(t, id_ref)).transpose()?,
                last_reply: reply
                    .map(|r| unescape_text(&r).ok_or_else(|| self.corrupt(id_ref, "bad %-escape")))
                    .transpose()?,
            });
        }
        let lease_expires: Option<i64> = self.col(row, 8, id_ref)?;
        let leased_until = lease_expires
            .map(|t| self.time(t, id_ref))
            .transpose()?
            .filter(|&t| t > now);
        Ok(MessageInfo {
            id,
            envelope: Arc::new(envelope),
            queued: self.time(self.col(row, 2, id_ref)?, id_ref)?,
            size: self.unsigned(self.col(row, 3, id_ref)?, id_ref)?,
            state: MessageState {
                attempts: self.unsigned(self.col(row, 4, id_ref)?, id_ref)?,
                next_attempt: self.time(self.col(row, 5, id_ref)?, id_ref)?,
                held: self.col(row, 6, id_ref)?,
                delay_warned: self.col(row, 7, id_ref)?,
                recipients,
            },
            leased_until,
        })
    }
}

impl QueueStore for PgStore {
    async fn enqueue(
        &self,
        envelope: Envelope,
        data: Bytes,
        now: Timestamp,
    ) -> Result<QueueId, QueueError> {
        const OP: &str = "enqueue";
        validate(&envelope)?;
        let size = data.len() as u64;
        let state = MessageState::fresh(&envelope, now);
        let addresses: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| escape_text(&r.address).into_owned())
            .collect();
        let sender = escape_text(&envelope.sender).into_owned();
        let received = db_time(envelope.received);
        let priority = i16::from(envelope.priority);
        let hold_until = envelope.hold_until.map(db_time);
        let deliver_by = envelope.deliver_by.map(|b| db_time(b.deadline));
        let mut header = MessageHeader {
            id: QueueId::from_parts(now, 0),
            queued: now,
            size,
            envelope,
        };

        let mut conn = self.conn(OP).await?;
        let next_id = conn.prepare(sql::NEXT_ID).await;
        let insert = conn.prepare(sql::ENQUEUE).await;
        let (next_id, insert) = (
            next_id.map_err(|e| self.db(OP, e))?,
            insert.map_err(|e| self.db(OP, e))?,
        );
        // The ID is the caller's time and a sequence number shared by all
        // nodes, modulo 65536: taken only if 65536 IDs were made in one
        // millisecond, and then the next number is tried.
        for _ in 0..8 {
            let row = conn
                .client
                .query_one(&next_id, &[])
                .await
                .map_err(|e| self.db(OP, e))?;
            let seq: i64 = row.try_get(0).map_err(|e| self.db(OP, e))?;
            header.id = QueueId::from_parts(now, (seq & 0xFFFF) as u16);
            let id = header.id.to_string();
            let text = codec::encode_message_header(&header);
            // One statement, committed when it returns: durable.
            let inserted = conn
                .client
                .execute(
                    &insert,
                    &[
                        &id,
                        &db_time(now),
                        &received,
                        &priority,
                        &hold_until,
                        &deliver_by,
                        &sender,
                        &text,
                        &db_count(data.len()),
                        &&data[..],
                        &db_time(state.next_attempt),
                        &addresses,
                    ],
                )
                .await
                .map_err(|e| self.db(OP, e))?;
            if inserted > 0 {
                return Ok(header.id);
            }
        }
        Err(self.storage(OP, io::ErrorKind::AlreadyExists, PgError::NoFreeId))
    }

    async fn lease(&self, request: LeaseRequest, now: Timestamp) -> Result<Vec<Lease>, QueueError> {
        const OP: &str = "lease";
        if request.max_messages == 0 || request.ttl.is_zero() {
            return Err(MisuseError::EmptyLeaseRequest.into());
        }
        let expires = now.saturating_add(request.ttl);
        let mut conn = self.conn(OP).await?;
        let lease = conn.prepare(sql::LEASE).await.map_err(|e| self.db(OP, e))?;
        let pending_of = conn
            .prepare(sql::PENDING_OF)
            .await
            .map_err(|e| self.db(OP, e))?;
        let tx = conn
            .client
            .transaction()
            .await
            .map_err(|e| self.db(OP, e))?;
        let rows = tx
            .query(
                &lease,
                &[
                    &db_time(now),
                    &db_count(request.max_messages),
                    &self.owner,
                    &db_time(expires),
                ],
            )
            .await
            .map_err(|e| self.db(OP, e))?;
        let ids: Vec<String> = rows
            .iter()
            .map(|row| self.col(row, 0, "?"))
            .collect::<Result<_, _>>()?;
        let mut pending: HashMap<String, Vec<usize>> = HashMap::with_capacity(ids.len());
        if !ids.is_empty() {
            for row in tx
                .query(&pending_of, &[&ids])
                .await
                .map_err(|e| self.db(OP, e))?
            {
                let id: String = self.col(&row, 0, "?")?;
                let index: i32 = self.col(&row, 1, &id)?;
                let index = usize::try_from(index)
                    .map_err(|_| self.corrupt(&id, format!("recipient index {index}")))?;
                pending.entry(id).or_default().push(index);
            }
        }
        let mut leases = Vec::with_capacity(rows.len());
        for (row, id_text) in rows.iter().zip(ids) {
            let id_ref = id_text.as_str();
            let id: QueueId = id_text
                .parse()
                .map_err(|_| self.corrupt(id_ref, "not a queue ID"))?;
            let token: i64 = self.col(row, 1, id_ref)?;
            let envelope = self.envelope(self.col(row, 2, id_ref)?, id_ref)?;
            let queued = self.time(self.col(row, 3, id_ref)?, id_ref)?;
            let priority: i16 = self.col(row, 7, id_ref)?;
            let key = WorkKey {
                priority: i8::try_from(priority)
                    .map_err(|_| self.corrupt(id_ref, format!("priority {priority}")))?,
                queued,
                id,
            };
            let lease = Lease {
                token: self.unsigned(token, id_ref)?,
                id,
                envelope: Arc::new(envelope),
                queued,
                size: self.unsigned(self.col(row, 4, id_ref)?, id_ref)?,
                attempts: self.unsigned(self.col(row, 5, id_ref)?, id_ref)?,
                delay_warned: self.col(row, 6, id_ref)?,
                pending: pending.remove(id_ref).unwrap_or_default(),
                expires,
            };
            leases.push((key, lease));
        }
        tx.commit().await.map_err(|e| self.db(OP, e))?;
        leases.sort_unstable_by_key(|(key, _)| *key);
        Ok(leases.into_iter().map(|(_, lease)| lease).collect())
    }

    async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Timestamp, QueueError> {
        const OP: &str = "renew";
        if ttl.is_zero() {
            return Err(MisuseError::EmptyLeaseRequest.into());
        }
        let expires = now.saturating_add(ttl);
        let mut conn = self.conn(OP).await?;
        let s = conn.prepare(sql::RENEW).await.map_err(|e| self.db(OP, e))?;
        let n = conn
            .client
            .execute(
                &s,
                &[&lease.id.to_string(), &db_token(lease), &db_time(expires)],
            )
            .await
            .map_err(|e| self.db(OP, e))?;
        if n == 0 {
            return Err(self.lease_error(&mut conn, lease).await);
        }
        Ok(expires)
    }

    async fn read_data(&self, id: QueueId) -> Result<Bytes, QueueError> {
        const OP: &str = "read data";
        let mut conn = self.conn(OP).await?;
        let s = conn
            .prepare(sql::READ_DATA)
            .await
            .map_err(|e| self.db(OP, e))?;
        let id_text = id.to_string();
        let row = conn
            .client
            .query_opt(&s, &[&id_text])
            .await
            .map_err(|e| self.db(OP, e))?
            .ok_or(MisuseError::UnknownMessage(id))?;
        let data: Vec<u8> = self.col(&row, 0, &id_text)?;
        let size: u64 = self.unsigned(self.col(&row, 1, &id_text)?, &id_text)?;
        if data.len() as u64 != size {
            return Err(CorruptError::WrongSize {
                path: self.location.join("messages").join(&id_text),
                expected: size,
                actual: data.len() as u64,
            }
            .into());
        }
        Ok(Bytes::from(data))
    }

    async fn record(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> Result<usize, QueueError> {
        self.record_outcomes(lease, outcomes, now, false).await
    }

    async fn complete(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> Result<usize, QueueError> {
        self.record_outcomes(lease, outcomes, now, true).await
    }

    async fn defer(
        &self,
        lease: &Lease,
        deferral: Deferral,
        _now: Timestamp,
    ) -> Result<(), QueueError> {
        const OP: &str = "defer";
        let mut conn = self.conn(OP).await?;
        let s = conn.prepare(sql::DEFER).await.map_err(|e| self.db(OP, e))?;
        let n = conn
            .client
            .execute(
                &s,
                &[
                    &lease.id.to_string(),
                    &db_token(lease),
                    &db_time(deferral.next_attempt),
                    &deferral.delay_warning_sent,
                ],
            )
            .await
            .map_err(|e| self.db(OP, e))?;
        if n == 0 {
            return Err(self.lease_error(&mut conn, lease).await);
        }
        Ok(())
    }

    async fn unlease(&self, lease: &Lease) -> Result<(), QueueError> {
        const OP: &str = "unlease";
        let mut conn = self.conn(OP).await?;
        let s = conn
            .prepare(sql::UNLEASE)
            .await
            .map_err(|e| self.db(OP, e))?;
        let n = conn
            .client
            .execute(&s, &[&lease.id.to_string(), &db_token(lease)])
            .await
            .map_err(|e| self.db(OP, e))?;
        if n == 0 {
            return Err(self.lease_error(&mut conn, lease).await);
        }
        Ok(())
    }

    async fn delete(&self, id: QueueId) -> Result<(), QueueError> {
        self.change("delete", id, sql::DELETE, &[&id.to_string()])
            .await
    }

    async fn list(&self, now: Timestamp) -> Result<Vec<MessageInfo>, QueueError> {
        const OP: &str = "list";
        let mut conn = self.conn(OP).await?;
        let s = conn.prepare(sql::LIST).await.map_err(|e| self.db(OP, e))?;
        let rows = conn
            .client
            .query(&s, &[])
            .await
            .map_err(|e| self.db(OP, e))?;
        rows.iter().map(|row| self.info(row, now)).collect()
    }

    async fn inspect(&self, id: QueueId, now: Timestamp) -> Result<MessageInfo, QueueError> {
        const OP: &str = "inspect";
        let mut conn = self.conn(OP).await?;
        let s = conn
            .prepare(sql::INSPECT)
            .await
            .map_err(|e| self.db(OP, e))?;
        let row = conn
            .client
            .query_opt(&s, &[&id.to_string()])
            .await
            .map_err(|e| self.db(OP, e))?
            .ok_or(MisuseError::UnknownMessage(id))?;
        self.info(&row, now)
    }

    async fn hold(&self, id: QueueId) -> Result<(), QueueError> {
        self.change("hold", id, sql::SET_HELD, &[&id.to_string(), &true])
            .await
    }

    async fn release(&self, id: QueueId) -> Result<(), QueueError> {
        self.change("release", id, sql::SET_HELD, &[&id.to_string(), &false])
            .await
    }

    async fn force_retry(&self, id: QueueId, now: Timestamp) -> Result<(), QueueError> {
        self.change(
            "force retry",
            id,
            sql::FORCE_RETRY,
            &[&id.to_string(), &db_time(now)],
        )
        .await
    }

    async fn force_retry_all(&self, now: Timestamp) -> Result<usize, QueueError> {
        const OP: &str = "force retry";
        let mut conn = self.conn(OP).await?;
        let s = conn
            .prepare(sql::FORCE_RETRY_ALL)
            .await
            .map_err(|e| self.db(OP, e))?;
        let n = conn
            .client
            .execute(&s, &[&db_time(now)])
            .await
            .map_err(|e| self.db(OP, e))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_reverse() {
        for s in ["", "plain", "50% off", "nul\0byte", "%00", "%", "ü\0%25"] {
            assert_eq!(unescape_text(&escape_text(s)).as_deref(), Some(s));
            assert!(!escape_text(s).contains('\0'));
        }
        assert!(matches!(escape_text("plain"), Cow::Borrowed(_)));
        assert_eq!(unescape_text("%4"), None);
        assert_eq!(unescape_text("%41"), None);
    }

    #[test]
    fn schema_names() {
        assert!(valid_schema("postel_queue"));
        assert!(valid_schema("_q1"));
        for bad in ["", "1q", "Queue", "q-1", "pg_queue", "q\"", &"q".repeat(64)] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }

    #[test]
    fn times_are_capped_not_wrapped() {
        assert_eq!(db_time(Timestamp::from_unix_millis(u64::MAX)), i64::MAX);
        assert_eq!(db_time(Timestamp::from_unix_secs(1)), 1000);
    }
}
