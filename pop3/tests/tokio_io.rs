//! The tokio drivers over loopback TCP: `serve_connection` with a memory
//! store on one side, `fetch_all` on the other.

mod common;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use common::{config, message_one, message_two, rfc_store};
use postel_pop3::client::{ClientAuth, ClientConfig, TlsPolicy};
use postel_pop3::server::{ConnectionInfo, ServerEvent, ServerSession};
use postel_pop3::tokio_io::{ServerHandler, fetch_all, serve_connection};
use tokio::net::{TcpListener, TcpStream};

struct Handler;

impl ServerHandler for Handler {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> io::Result<()> {
        if let ServerEvent::Login { user, password } = event {
            let ok = user == "mrose" && password.as_str() == "tanstaaf";
            session.login_verified(ok).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

async fn fetch(
    delete: bool,
    password: &str,
) -> (
    io::Result<Vec<postel_pop3::tokio_io::FetchedMessage>>,
    postel_pop3::maildrop::MemoryStore,
) {
    let store = rfc_store();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_store = store.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let session = ServerSession::new(
            Arc::new(config()),
            ConnectionInfo::default(),
            Instant::now(),
        );
        serve_connection(stream, session, &mut Handler, server_store, None).await
    });
    let mut c = ClientConfig::new(Some(ClientAuth::UserPass {
        user: "mrose".into(),
        password: password.into(),
    }));
    c.allow_plaintext_without_tls = true;
    c.tls = TlsPolicy::Disabled;
    let stream = TcpStream::connect(addr).await.unwrap();
    let fetched = fetch_all(stream, c, None, delete).await;
    server.await.unwrap().unwrap();
    (fetched, store)
}

#[tokio::test]
async fn fetch_all_retrieves_and_deletes() {
    let (fetched, store) = fetch(true, "tanstaaf").await;
    let fetched = fetched.unwrap();
    assert_eq!(fetched.len(), 2);
    assert_eq!(fetched[0].data, message_one());
    assert_eq!(fetched[1].data, message_two());
    assert_eq!(fetched[0].uid.as_deref(), Some("QhdPYR:00WBw1Ph7x7"));
    assert!(store.messages("mrose").is_empty());
    assert!(!store.is_locked("mrose"));
}

#[tokio::test]
async fn fetch_all_keeps_and_reports_failures() {
    let (fetched, store) = fetch(false, "tanstaaf").await;
    assert_eq!(fetched.unwrap().len(), 2);
    assert_eq!(store.messages("mrose").len(), 2);
    let (fetched, _) = fetch(false, "wrong").await;
    let err = fetched.unwrap_err().to_string();
    assert!(err.contains("[AUTH]"), "{err}");
}
