//! Arbitrary SPF record text: parsing never panics, and a record that
//! parses evaluates to an end (every name answers with the same record, so
//! includes and redirects recurse until the lookup limit stops them).
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use postel_auth::spf::{SpfCheck, SpfConfig, SpfRecord};
use postel_auth::{Answer, Check, Progress, Record, RecordType};

fuzz_target!(|data: &[u8]| {
    if SpfRecord::parse(data).is_err() {
        return;
    }
    let mut check = SpfCheck::mail_from(
        "192.0.2.1".parse().unwrap(),
        "helo.example.org",
        "user@example.org",
        SpfConfig::default(),
    );
    for _ in 0..500 {
        match check.progress(Instant::now()) {
            Progress::Done(_) => return,
            Progress::NeedAnswers(queries) => {
                for q in queries {
                    let answer = match q.record_type() {
                        RecordType::Txt => Answer::Records(vec![Record::Txt(data.to_vec())]),
                        RecordType::A => Answer::Records(vec![Record::A([192, 0, 2, 9].into())]),
                        RecordType::Mx => Answer::Records(vec![Record::Mx {
                            preference: 0,
                            exchange: "mx.example.org".into(),
                        }]),
                        RecordType::Ptr => Answer::Records(vec![Record::Ptr("example.org".into())]),
                        RecordType::Aaaa => Answer::NoData,
                    };
                    check.answer(&q, answer);
                }
            }
        }
    }
    panic!("SPF evaluation did not end");
});
