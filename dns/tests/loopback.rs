//! `HickoryResolver` against a tiny DNS server on 127.0.0.1 that answers
//! from the test zone files, and `ZoneResolver` on files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record as HRecord, RecordType as HType};
use postel_dns::{
    Answer, HickoryOptions, HickoryResolver, MemoryResolver, Query, Record, RecordType, Resolver,
    ZoneError, ZoneResolver,
};
use tokio::net::UdpSocket;

fn data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

/// A name the server never answers, to make the resolver time out.
const SILENT: &str = "silent.test";
/// A name the server answers with SERVFAIL.
const BROKEN: &str = "servfail.test";

/// The test server: answers from `table`, counts the questions it answers.
struct Server {
    addr: SocketAddr,
    answered: Arc<AtomicUsize>,
}

async fn start_server(table: MemoryResolver) -> Server {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Some(reply) = respond(&table, &buf[..n]) else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = socket.send_to(&reply, peer).await;
        }
    });
    Server { addr, answered }
}

/// The reply to one request, or `None` to stay silent.
fn respond(table: &MemoryResolver, request: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(request).ok()?;
    let question = request.queries.first()?.clone();
    let name = question.name.to_ascii();
    let query_name = name.trim_end_matches('.').to_ascii_lowercase();
    if query_name == SILENT {
        return None;
    }
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.add_query(question.clone());

    let rtype = match question.query_type {
        HType::A => Some(RecordType::A),
        HType::AAAA => Some(RecordType::Aaaa),
        HType::MX => Some(RecordType::Mx),
        HType::TXT => Some(RecordType::Txt),
        HType::PTR => Some(RecordType::Ptr),
        _ => None,
    };
    let answer = match rtype {
        _ if query_name == BROKEN => Answer::TempFail("broken".into()),
        Some(rtype) => table.answer(&Query::new(&query_name, rtype)),
        None => Answer::NoData,
    };
    match answer {
        Answer::Records(records) => {
            for record in records {
                reply.add_answer(HRecord::from_rdata(
                    question.name.clone(),
                    300,
                    to_rdata(&record),
                ));
            }
        }
        Answer::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
        Answer::NoData => {}
        Answer::TempFail(_) => reply.metadata.response_code = ResponseCode::ServFail,
    }
    reply.to_vec().ok()
}

fn host(name: &str) -> Name {
    Name::from_ascii(format!("{name}.")).unwrap_or_else(|_| Name::root())
}

fn to_rdata(record: &Record) -> RData {
    match record {
        Record::A(a) => RData::A(A(*a)),
        Record::Aaaa(a) => RData::AAAA(AAAA(*a)),
        Record::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, host(exchange))),
        // Character-strings hold at most 255 octets: split, the client joins.
        Record::Txt(text) => RData::TXT(TXT::from_bytes(text.chunks(255).collect())),
        Record::Ptr(target) => RData::PTR(PTR(host(target))),
    }
}

fn zone_table() -> MemoryResolver {
    let zones = ZoneResolver::from_files([data("example.zone"), data("reverse.zone")]).unwrap();
    let mut table = zones.into_memory();
    // A TXT record longer than one character-string.
    table.add_txt("long.example.com", "k".repeat(600));
    // NXDOMAIN for one type of an existing name: the server says so.
    table.insert("mail.example.com", RecordType::Txt, Answer::NxDomain);
    table
}

fn quick() -> HickoryOptions {
    HickoryOptions::new()
        .timeout(Duration::from_millis(300))
        .attempts(1)
        .cache_size(64)
}

#[tokio::test]
async fn hickory_resolver_against_a_loopback_server() {
    let server = start_server(zone_table()).await;
    let dns = HickoryResolver::with_servers(&[server.addr], &quick()).unwrap();

    // Each record type.
    let a = dns
        .lookup(&Query::new("Mail.Example.com", RecordType::A))
        .await;
    assert_eq!(a.records(), &[Record::A("192.0.2.25".parse().unwrap())]);
    let aaaa = dns
        .lookup(&Query::new("mail.example.com", RecordType::Aaaa))
        .await;
    assert_eq!(
        aaaa.records(),
        &[Record::Aaaa("2001:db8::25".parse().unwrap())]
    );
    let mut mx = dns
        .lookup(&Query::new("example.com", RecordType::Mx))
        .await
        .records()
        .to_vec();
    mx.sort_by_key(|r| r.to_string());
    assert_eq!(
        mx,
        [
            Record::Mx {
                preference: 10,
                exchange: "mail.example.com".into()
            },
            Record::Mx {
                preference: 20,
                exchange: "backup-mx.example.net".into()
            }
        ]
    );
    let spf = dns
        .lookup(&Query::new("example.com", RecordType::Txt))
        .await;
    assert_eq!(
        spf.txt().collect::<Vec<_>>(),
        [&b"v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"[..]]
    );
    let long = dns
        .lookup(&Query::new("long.example.com", RecordType::Txt))
        .await;
    assert_eq!(long.txt().next().map(<[u8]>::len), Some(600));
    let ptr = dns
        .lookup(&Query::reverse("192.0.2.25".parse().unwrap()))
        .await;
    assert_eq!(ptr.records(), &[Record::Ptr("mail.example.com".into())]);
    let via_alias = dns
        .lookup(&Query::new("smtp.example.com", RecordType::A))
        .await;
    assert_eq!(via_alias.ips().count(), 1);

    // Negative answers.
    assert_eq!(
        dns.lookup(&Query::new("nope.example.com", RecordType::A))
            .await,
        Answer::NxDomain
    );
    assert_eq!(
        dns.lookup(&Query::new("mail.example.com", RecordType::Txt))
            .await,
        Answer::NxDomain
    );
    assert_eq!(
        dns.lookup(&Query::new("mail.example.com", RecordType::Mx))
            .await,
        Answer::NoData
    );
    assert_eq!(
        dns.lookup(&Query::new("_domainkey.example.com", RecordType::Txt))
            .await,
        Answer::NoData
    );

    // Failures.
    let servfail = dns.lookup(&Query::new(BROKEN, RecordType::Txt)).await;
    assert!(servfail.is_temp_fail(), "{servfail:?}");
    let started = Instant::now();
    let silent = dns.lookup(&Query::new(SILENT, RecordType::Txt)).await;
    assert!(silent.is_temp_fail(), "{silent:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn answers_are_cached() {
    let server = start_server(zone_table()).await;
    let dns = HickoryResolver::with_servers(&[server.addr], &quick()).unwrap();
    let query = Query::new("_dmarc.example.com", RecordType::Txt);
    let first = dns.lookup(&query).await;
    assert!(first.txt().next().unwrap().starts_with(b"v=DMARC1"));
    let asked = server.answered.load(Ordering::SeqCst);
    assert_eq!(dns.lookup(&query).await, first);
    assert_eq!(
        server.answered.load(Ordering::SeqCst),
        asked,
        "served from cache"
    );
    dns.clear_cache();
    assert_eq!(dns.lookup(&query).await, first);
    assert_eq!(server.answered.load(Ordering::SeqCst), asked + 1);
}

#[tokio::test]
async fn a_dead_server_is_a_temp_fail() {
    // Bind a port, then close it: nothing listens there.
    let addr = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dns = HickoryResolver::with_servers(&[addr], &quick()).unwrap();
    let started = Instant::now();
    let answer = dns.lookup(&Query::new("example.com", RecordType::A)).await;
    assert!(answer.is_temp_fail(), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn zone_resolver_from_files() {
    let dns = ZoneResolver::from_files([data("example.zone"), data("reverse.zone")]).unwrap();
    let key = dns
        .lookup(&Query::new("sel._domainkey.example.com", RecordType::Txt))
        .await;
    assert_eq!(
        key.txt().next(),
        Some(&b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="[..])
    );
    assert_eq!(
        dns.lookup(&Query::reverse("192.0.2.25".parse().unwrap()))
            .await
            .records(),
        &[Record::Ptr("mail.example.com".into())]
    );
    // The resolver behind an Arc, as tasks share it.
    let shared = Arc::new(dns);
    let handle = tokio::spawn({
        let shared = shared.clone();
        async move {
            let query = Query::new("smtp.example.com", RecordType::Aaaa);
            shared.lookup(&query).await
        }
    });
    assert_eq!(handle.await.unwrap().ips().count(), 1);
}

#[test]
fn zone_syntax_errors_name_the_file_and_line() {
    let path = data("broken.zone");
    let err = ZoneResolver::from_files([data("example.zone"), path.clone()]).unwrap_err();
    let prefix = format!("{}:5: ", path.display());
    assert!(err.to_string().starts_with(&prefix), "{err}");
    match err {
        ZoneError::Syntax { file, line, .. } => {
            assert_eq!(file, path.display().to_string());
            assert_eq!(line, 5);
        }
        other => panic!("not a syntax error: {other:?}"),
    }

    // The same in a file written here, with the error deep in the file.
    let mut text = String::from("$ORIGIN example.net.\n");
    for i in 0..200 {
        text.push_str(&format!("h{i} 60 IN A 192.0.2.{}\n", i % 250));
    }
    text.push_str("(broken\n");
    text.push_str("tail 60 IN A 192.0.2.1\n");
    let file = std::env::temp_dir().join(format!("postel-dns-{}.zone", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let err = ZoneResolver::from_file(&file).unwrap_err();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(err.line(), Some(202), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:202: ", file.display())),
        "{err}"
    );
}
