//! Interop with dkimpy's ARC implementation: chains it sealed (made by
//! tests/arc_data/make_vectors.py with the committed RSA test key) verify
//! here, and a set sealed here on top of its chain verifies too. With
//! `POSTEL_ARC_WRITE_VECTORS=1` the chain sealed here is written to
//! tests/arc_data/postel_2hop.eml for the script to check with dkimpy.

mod arc_support;

use arc_support::{NOW, Zone, replace, rsa_key, verify};
use postel_auth::arc::{ArcResult, SealerConfig, seal_message};

const ONE_HOP: &[u8] = include_bytes!("arc_data/dkimpy_1hop.eml");
const TWO_HOPS: &[u8] = include_bytes!("arc_data/dkimpy_2hop.eml");

fn zone() -> Zone {
    let record = rsa_key().dns_record();
    Zone::new()
        .txt("sel._domainkey.hop1.example", &record)
        .txt("sel._domainkey.hop2.example", &record)
}

#[test]
fn dkimpy_chains_pass() {
    let zone = zone();
    let out = verify(&zone, ONE_HOP);
    assert_eq!(out.result, ArcResult::Pass, "{out:#?}");
    assert_eq!(out.instances, 1);
    let out = verify(&zone, TWO_HOPS);
    assert_eq!(out.result, ArcResult::Pass, "{out:#?}");
    assert_eq!(out.instances, 2);
    assert_eq!(out.oldest_pass, Some(0));
    assert_eq!(out.sets[0].seal_domain, "hop1.example");
    assert_eq!(out.sets[1].seal_domain, "hop2.example");
    assert!(
        out.sets[1]
            .authentication_results
            .starts_with("mx.hop2.example;")
    );
}

#[test]
fn tampered_dkimpy_chains_fail() {
    let zone = zone();
    for message in [ONE_HOP, TWO_HOPS] {
        let body = replace(message, "sealed by dkimpy", "sealed by dkimpy!");
        assert_eq!(verify(&zone, &body).result, ArcResult::Fail);
        let header = replace(message, "Subject: interop test", "Subject: interop tset");
        assert_eq!(verify(&zone, &header).result, ArcResult::Fail);
        let seal = replace(message, "cv=none", "cv=pass");
        assert_eq!(verify(&zone, &seal).result, ArcResult::Fail);
    }
    // The first hop's AAR is covered by the second hop's seal.
    let aar = replace(TWO_HOPS, "i=1; mx.hop1.example;", "i=1; mx.hop9.example;");
    let out = verify(&zone, &aar);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason.as_deref().unwrap().contains("ARC-Seal"),
        "{out:#?}"
    );
}

/// dkimpy's first hop, then a second hop sealed here.
fn sealed_here() -> Vec<u8> {
    let zone = zone();
    let incoming = verify(&zone, ONE_HOP);
    assert_eq!(incoming.result, ArcResult::Pass);
    let mut config = SealerConfig::new("hop2.example", "sel");
    config.timestamp = Some(NOW);
    let ar = "mx.hop2.example; spf=pass smtp.mailfrom=origin.example; arc=pass";
    let mut with_ar = format!("Authentication-Results: {ar}\r\n").into_bytes();
    with_ar.extend_from_slice(ONE_HOP);
    let set = seal_message(&with_ar, incoming.result, ar, &rsa_key(), &config).unwrap();
    let mut out = set.to_prepend().into_bytes();
    out.extend_from_slice(&with_ar);
    out
}

#[test]
fn sealing_on_a_dkimpy_chain() {
    let message = sealed_here();
    let out = verify(&zone(), &message);
    assert_eq!(out.result, ArcResult::Pass, "{out:#?}");
    assert_eq!(out.instances, 2);
    if std::env::var_os("POSTEL_ARC_WRITE_VECTORS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/arc_data/postel_2hop.eml"
        );
        std::fs::write(path, &message).unwrap();
    }
}

#[test]
fn committed_postel_vector_passes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/arc_data/postel_2hop.eml"
    );
    if let Ok(message) = std::fs::read(path) {
        assert_eq!(verify(&zone(), &message).result, ArcResult::Pass);
    }
}
