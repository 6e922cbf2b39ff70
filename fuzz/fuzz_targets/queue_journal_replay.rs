//! A journal segment of arbitrary content: opening never panics, reads of
//! whatever it finds never panic, the first opening cuts a damaged tail so
//! that a second opening finds no damage and the same queue, and the
//! journal takes new messages after it.
//!
//! With an odd first byte the rest is cut into record bodies (at each
//! `\n--\n`) framed with a correct length and CRC, so that the fuzzer
//! reaches the envelope and state decoders instead of stopping at the
//! checksum; with an even one the bytes are the file as they are.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use postel_queue::{Envelope, JournalOptions, JournalStore, QueueStore, Recipient, Timestamp};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("postel-fuzz-journal-{}", std::process::id()))
}

fn framed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let (body, next) = match rest.windows(4).position(|w| w == b"\n--\n") {
            Some(i) => (&rest[..i], Some(&rest[i + 4..])),
            None => (rest, None),
        };
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        out.extend_from_slice(body);
        match next {
            Some(n) => rest = n,
            None => return out,
        }
    }
}

type Snapshot = Vec<(String, Vec<String>, u64, Result<Bytes, String>)>;

async fn snapshot(s: &JournalStore) -> Snapshot {
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let mut v = Vec::new();
    for m in s.list(now).await.unwrap() {
        let data = s.read_data(m.id).await.map_err(|e| e.to_string());
        v.push((
            m.id.to_string(),
            m.envelope
                .recipients
                .iter()
                .map(|r| r.address.clone())
                .collect(),
            m.size,
            data,
        ));
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 1 {
        framed(rest)
    } else {
        rest.to_vec()
    };
    let dir = dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0000000000000001.seg"), &bytes).unwrap();
    let options = JournalOptions {
        segment_size: 4096,
        ..JournalOptions::default()
    };
    runtime().block_on(async {
        let (store, _) = JournalStore::open(&dir, options).unwrap();
        let first = snapshot(&store).await;
        drop(store);
        let (store, report) = JournalStore::open(&dir, options).unwrap();
        assert!(report.damaged.is_empty(), "{report:?}");
        assert_eq!(snapshot(&store).await, first);
        let now = Timestamp::from_unix_secs(1_700_000_000);
        let env = Envelope::new("a@b.example", [Recipient::new("c@d.example")], now);
        store
            .enqueue(env, Bytes::from_static(b"x"), now)
            .await
            .unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
});
