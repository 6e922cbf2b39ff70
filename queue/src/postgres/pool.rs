//! A small pool of connections for one `PgStore`.
//!
//! A transaction needs a connection of its own, so concurrent callers need
//! several. Connections are opened when needed, up to a limit, and kept
//! for the next caller; one that the server or the network closed is
//! dropped and replaced by a new one on the next call. Each connection
//! keeps the statements it prepared, so a query is parsed once per
//! connection.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::sql;

/// Why no connection could be had.
#[derive(Debug)]
pub(super) enum GetError {
    /// Connecting or setting up the connection failed.
    Db(tokio_postgres::Error),
    /// Called outside a Tokio runtime: the connection's task cannot run.
    NoRuntime,
    /// The pool's semaphore was closed (it never is).
    Closed,
}

/// One connection and its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    /// The statement for `sql`, prepared on this connection once.
    pub(super) async fn prepare(
        &mut self,
        sql: &'static str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

pub(super) struct Pool {
    config: Config,
    /// The `search_path` every connection gets: the store's schema, quoted.
    search_path: String,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    max: usize,
}

impl Pool {
    pub(super) fn new(config: Config, search_path: String, max: usize) -> Self {
        Pool {
            config,
            search_path,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max),
            max,
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// A connection for the caller alone, back in the pool when dropped.
    pub(super) async fn get(&self) -> Result<Pooled<'_>, GetError> {
        let slot = self.slots.acquire().await.map_err(|_| GetError::Closed)?;
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let mut found = None;
            while let Some(conn) = idle.pop() {
                if !conn.client.is_closed() {
                    found = Some(conn);
                    break;
                }
            }
            found
        };
        let conn = match reused {
            Some(conn) => conn,
            None => self.open().await?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self,
            _slot: slot,
        })
    }

    async fn open(&self) -> Result<Conn, GetError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| GetError::NoRuntime)?;
        let (client, connection) = self.config.connect(NoTls).await.map_err(GetError::Db)?;
        // The connection object does the I/O of the client; it ends when
        // the client is dropped or the server goes away, and its error
        // then reaches the client's callers as a closed connection.
        runtime.spawn(async move {
            let _ = connection.await;
        });
        client
            .execute(sql::SET_UP_CONNECTION, &[&self.search_path])
            .await
            .map_err(GetError::Db)?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }
}

/// A connection taken from the pool.
pub(super) struct Pooled<'a> {
    /// Always `Some` until dropped.
    conn: Option<Conn>,
    pool: &'a Pool,
    _slot: SemaphorePermit<'a>,
}

impl Deref for Pooled<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a pooled connection is present until dropped")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        // A transaction dropped unfinished has already queued its ROLLBACK
        // on the connection, ahead of whatever the next user sends.
        if let Some(conn) = self.conn.take().filter(|c| !c.client.is_closed()) {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}
