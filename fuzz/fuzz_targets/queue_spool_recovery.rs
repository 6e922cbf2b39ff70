//! A spool holding one message file and one state file of arbitrary
//! content: opening never panics and only quarantines or removes what it
//! cannot read, so that a second opening is clean and finds the same
//! queue; reads of what it found never panic.
//!
//! The input is the message file, then (after the first `\n==\n`) the
//! state file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use postel_queue::{QueueStore, SpoolOptions, SpoolStore, Timestamp};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("postel-fuzz-spool-{}", std::process::id()))
}

type Snapshot = Vec<(String, u32, bool, Vec<String>, Result<Bytes, String>)>;

async fn snapshot(s: &SpoolStore) -> Snapshot {
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let mut v = Vec::new();
    for m in s.list(now).await.unwrap() {
        let data = s.read_data(m.id).await.map_err(|e| e.to_string());
        v.push((
            m.id.to_string(),
            m.state.attempts,
            m.state.held,
            m.envelope
                .recipients
                .iter()
                .map(|r| r.address.clone())
                .collect(),
            data,
        ));
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let (msg, state) = match data.windows(4).position(|w| w == b"\n==\n") {
        Some(i) => (&data[..i], Some(&data[i + 4..])),
        None => (data, None),
    };
    let dir = dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The ID the seed corpus uses, so that the header can match its name.
    let id = "01A2257A207B0000";
    std::fs::write(dir.join(format!("{id}.msg")), msg).unwrap();
    if let Some(state) = state {
        std::fs::write(dir.join(format!("{id}.state")), state).unwrap();
    }
    runtime().block_on(async {
        let (store, _) = SpoolStore::open(&dir, SpoolOptions::default()).unwrap();
        let first = snapshot(&store).await;
        drop(store);
        let (store, report) = SpoolStore::open(&dir, SpoolOptions::default()).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(snapshot(&store).await, first);
    });
    let _ = std::fs::remove_dir_all(&dir);
});
