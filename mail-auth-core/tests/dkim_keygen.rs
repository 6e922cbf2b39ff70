//! Key generation (feature `keygen`): the new keys sign, and their records
//! verify what they signed.
#![cfg(feature = "keygen")]

mod dkim_support;

use dkim_support::{NOW, Zone, statuses};
use postel_auth::dkim::keygen::{
    GeneratedKey, generate_ed25519, generate_rsa_2048, zone_file_line,
};
use postel_auth::dkim::{
    DkimStatus, KeyType, SignerConfig, VerifierConfig, sign_message, verify_message,
};

fn round_trip(generated: &GeneratedKey) {
    assert!(
        generated
            .private_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    let key = generated.signing_key().unwrap();
    assert_eq!(key.dns_record(), generated.dns_record);
    let message = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
    let mut signed = sign_message(message, &SignerConfig::new("example.com", "new"), &key)
        .unwrap()
        .into_bytes();
    signed.extend_from_slice(message);
    let zone = Zone::new().txt("new._domainkey.example.com", &generated.dns_record);
    let results = zone.run(verify_message(&signed, NOW, VerifierConfig::default()));
    assert_eq!(statuses(&results), vec![DkimStatus::Pass]);
}

#[test]
fn ed25519_keys_work() {
    let generated = generate_ed25519().unwrap();
    assert_eq!(generated.key_type, KeyType::Ed25519);
    round_trip(&generated);
}

#[test]
fn rsa_2048_keys_work_and_publish_in_pieces() {
    let generated = generate_rsa_2048().unwrap();
    assert_eq!(generated.key_type, KeyType::Rsa);
    assert!(
        generated
            .dns_record
            .starts_with("v=DKIM1; k=rsa; p=MIIBIjAN")
    );
    round_trip(&generated);
    let line = zone_file_line("new", "example.com", &generated.dns_record);
    assert!(line.starts_with("new._domainkey.example.com. IN TXT ( \""));
    assert!(line.ends_with("\" )"));
    let pieces: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    assert!(pieces.len() >= 2);
    assert!(pieces.iter().all(|p| p.len() <= 255));
    assert_eq!(pieces.concat(), generated.dns_record);
}
