//! The openspf.org RFC 7208 test suite, every case a test of its own.
//!
//! The suite lives outside the project (`../shared/conformance/spf/`, or
//! the directory in `POSTEL_CONFORMANCE_DIR`); its README gives the driver
//! conventions this harness applies (SPF-type records answer TXT queries,
//! TIMEOUT, NONE, `error.` names).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use libtest_mimic::{Arguments, Failed, Trial};
use postel_auth::spf::{SpfCheck, SpfConfig};
use postel_auth::{Answer, Check, Progress, Query, Record, RecordType};
use yaml_rust2::{Yaml, YamlLoader};

/// One entry of a name's list in `zonedata`.
#[derive(Debug, Clone)]
enum Entry {
    Timeout,
    Typed(String, TypedValue),
}

#[derive(Debug, Clone)]
enum TypedValue {
    Timeout,
    None,
    Value(Yaml),
}

type Zone = HashMap<String, Vec<Entry>>;

fn suite_path() -> PathBuf {
    if let Ok(dir) = std::env::var("POSTEL_CONFORMANCE_DIR") {
        return PathBuf::from(dir).join("spf/rfc7208-tests.yml");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/spf/rfc7208-tests.yml")
}

/// YAML strings carry `\xNN` escapes as code points; a code point below 256
/// is that byte.
fn bytes_of(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 256 {
            out.push(c as u32 as u8);
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

fn scalar(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn load_zone(zonedata: &Yaml) -> Zone {
    let mut zone = Zone::new();
    let Some(map) = zonedata.as_hash() else {
        return zone;
    };
    for (name, list) in map {
        let mut entries = Vec::new();
        for item in list.as_vec().into_iter().flatten() {
            match item {
                Yaml::String(s) if s == "TIMEOUT" => entries.push(Entry::Timeout),
                Yaml::Hash(h) => {
                    for (k, v) in h {
                        let value = match v {
                            Yaml::String(s) if s == "TIMEOUT" => TypedValue::Timeout,
                            Yaml::String(s) if s == "NONE" => TypedValue::None,
                            other => TypedValue::Value(other.clone()),
                        };
                        entries.push(Entry::Typed(scalar(k).to_ascii_uppercase(), value));
                    }
                }
                _ => {}
            }
        }
        zone.entry(norm(&scalar(name))).or_default().extend(entries);
    }
    zone
}

fn record_of(rtype: RecordType, value: &Yaml) -> Option<Record> {
    Some(match rtype {
        RecordType::A => Record::A(scalar(value).parse().ok()?),
        RecordType::Aaaa => Record::Aaaa(scalar(value).parse().ok()?),
        RecordType::Mx => {
            let v = value.as_vec()?;
            Record::Mx {
                preference: scalar(v.first()?).parse().ok()?,
                exchange: norm(&scalar(v.get(1)?)),
            }
        }
        RecordType::Ptr => Record::Ptr(norm(&scalar(value))),
        RecordType::Txt => match value {
            Yaml::Array(parts) => {
                Record::Txt(parts.iter().flat_map(|p| bytes_of(&scalar(p))).collect())
            }
            other => Record::Txt(bytes_of(&scalar(other))),
        },
    })
}

fn resolve(zone: &Zone, query: &Query, depth: u32) -> Answer {
    let name = query.name();
    let Some(entries) = zone.get(name) else {
        if name.starts_with("error.") {
            return Answer::TempFail("timeout".into());
        }
        return Answer::NxDomain;
    };
    let wanted = query.record_type().to_string();
    let typed = |t: &str| -> Vec<&TypedValue> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Typed(k, v) if k == t => Some(v),
                _ => None,
            })
            .collect()
    };
    let mut values: Vec<&TypedValue> = typed(&wanted);
    if query.record_type() == RecordType::Txt && values.is_empty() {
        values = typed("SPF");
    }
    if values.iter().any(|v| matches!(v, TypedValue::Timeout)) {
        return Answer::TempFail("timeout".into());
    }
    let records: Vec<Record> = values
        .iter()
        .filter_map(|v| match v {
            TypedValue::Value(y) => record_of(query.record_type(), y),
            _ => None,
        })
        .collect();
    if records.is_empty() {
        if let Some(TypedValue::Value(target)) = typed("CNAME").first()
            && depth < 8
        {
            return resolve(
                zone,
                &Query::new(&scalar(target), query.record_type()),
                depth + 1,
            );
        }
        if entries.iter().any(|e| matches!(e, Entry::Timeout)) {
            return Answer::TempFail("timeout".into());
        }
        return Answer::NoData;
    }
    Answer::Records(records)
}

struct Case {
    zone: std::sync::Arc<Zone>,
    helo: String,
    host: String,
    mailfrom: String,
    results: Vec<String>,
    explanation: Option<String>,
}

fn run(case: &Case) -> Result<(), Failed> {
    let ip: IpAddr = case
        .host
        .parse()
        .map_err(|e| format!("bad host {:?}: {e}", case.host))?;
    let config = SpfConfig {
        receiver: "receiver.example".into(),
        ..SpfConfig::default()
    };
    let mut check = SpfCheck::mail_from(ip, &case.helo, &case.mailfrom, config);
    let mut rounds = 0;
    let output = loop {
        match check.progress(Instant::now()) {
            Progress::Done(out) => break out,
            Progress::NeedAnswers(queries) => {
                rounds += 1;
                if rounds > 200 {
                    return Err("the check never ended".into());
                }
                for q in queries {
                    let answer = resolve(&case.zone, &q, 0);
                    check.answer(&q, answer);
                }
            }
        }
    };
    let got = output.result.as_str();
    if !case.results.iter().any(|r| r == got) {
        return Err(format!(
            "result {got} (problem: {:?}), expected one of {:?}",
            output.problem, case.results
        )
        .into());
    }
    if let (Some(want), "fail") = (&case.explanation, got) {
        let have = output.explanation.clone().unwrap_or_default();
        if want != "DEFAULT" && *want != have {
            return Err(format!("explanation {have:?}, expected {want:?}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let path = suite_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the openspf suite is missing at {} ({e}); it comes from ../shared/conformance \
             (set POSTEL_CONFORMANCE_DIR to its directory)",
            path.display()
        )
    });
    let docs = YamlLoader::load_from_str(&text).expect("the openspf suite is valid YAML");
    let mut trials = Vec::new();
    for doc in &docs {
        let zone = std::sync::Arc::new(load_zone(&doc["zonedata"]));
        let section = scalar(&doc["description"]);
        let Some(tests) = doc["tests"].as_hash() else {
            continue;
        };
        for (name, t) in tests {
            let results = match &t["result"] {
                Yaml::Array(list) => list.iter().map(scalar).collect(),
                other => vec![scalar(other)],
            };
            let case = Case {
                zone: zone.clone(),
                helo: scalar(&t["helo"]),
                host: scalar(&t["host"]),
                mailfrom: scalar(&t["mailfrom"]),
                results,
                explanation: t["explanation"].as_str().map(str::to_string),
            };
            let test_name = format!("{} :: {}", section, scalar(name));
            trials.push(Trial::test(test_name, move || run(&case)));
        }
    }
    assert_eq!(trials.len(), 203, "the suite should have 203 cases");
    libtest_mimic::run(&args, trials).exit();
}
