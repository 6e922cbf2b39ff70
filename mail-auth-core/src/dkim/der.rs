//! The little DER that DKIM keys need: find the RSAPublicKey inside a
//! SubjectPublicKeyInfo, measure its modulus, wrap one back, and tell which
//! algorithm a PKCS#8 key is for.

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// 1.2.840.113549.1.1.1 (rsaEncryption), content bytes.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.3.101.112 (id-Ed25519), content bytes.
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Read one tag-length-value: the tag, the content, and what follows.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = read_tlv(input)?;
    (t == tag).then_some((content, rest))
}

/// An RSA public key found in a key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaPublicKey<'a> {
    /// The RSAPublicKey DER (what ring verifies with).
    pub der: &'a [u8],
    /// The modulus length in bits.
    pub bits: usize,
}

/// Find the RSAPublicKey in `der`, which is either a SubjectPublicKeyInfo
/// for rsaEncryption (what RFC 6376 §3.6.1 says `p=` holds) or a bare
/// RSAPublicKey (which some publishers use).
pub(crate) fn rsa_public_key(der: &[u8]) -> Option<RsaPublicKey<'_>> {
    let (outer, trailing) = expect(der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (first_tag, _, _) = read_tlv(outer)?;
    let rsa_der = if first_tag == TAG_SEQUENCE {
        // SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING.
        let (alg, rest) = expect(outer, TAG_SEQUENCE)?;
        let (oid, params) = expect(alg, TAG_OID)?;
        if oid != OID_RSA {
            return None;
        }
        if !params.is_empty() {
            let (null, after) = expect(params, TAG_NULL)?;
            if !null.is_empty() || !after.is_empty() {
                return None;
            }
        }
        let (bits, rest) = expect(rest, TAG_BIT_STRING)?;
        if !rest.is_empty() {
            return None;
        }
        let (&unused, key) = bits.split_first()?;
        if unused != 0 {
            return None;
        }
        key
    } else {
        der
    };
    let (seq, trailing) = expect(rsa_der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (modulus, rest) = expect(seq, TAG_INTEGER)?;
    let (exponent, rest) = expect(rest, TAG_INTEGER)?;
    if !rest.is_empty() || exponent.is_empty() {
        return None;
    }
    let significant = modulus
        .iter()
        .position(|&b| b != 0)
        .map(|i| &modulus[i..])?;
    let bits = (significant.len() - 1) * 8 + (8 - significant[0].leading_zeros() as usize);
    Some(RsaPublicKey { der: rsa_der, bits })
}

/// The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo.
pub(crate) fn ed25519_from_spki(der: &[u8]) -> Option<&[u8]> {
    let (outer, trailing) = expect(der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (alg, rest) = expect(outer, TAG_SEQUENCE)?;
    let (oid, _) = expect(alg, TAG_OID)?;
    if oid != OID_ED25519 {
        return None;
    }
    let (bits, _) = expect(rest, TAG_BIT_STRING)?;
    let (&unused, key) = bits.split_first()?;
    (unused == 0 && key.len() == 32).then_some(key)
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    write_len(out, content.len());
    out.extend_from_slice(content);
}

/// Wrap an RSAPublicKey DER in a SubjectPublicKeyInfo, as `p=` wants it.
pub(crate) fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    write_tlv(&mut alg, TAG_OID, OID_RSA);
    write_tlv(&mut alg, TAG_NULL, &[]);
    let mut bits = Vec::with_capacity(rsa_public_key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(rsa_public_key);
    let mut inner = Vec::new();
    write_tlv(&mut inner, TAG_SEQUENCE, &alg);
    write_tlv(&mut inner, TAG_BIT_STRING, &bits);
    let mut out = Vec::new();
    write_tlv(&mut out, TAG_SEQUENCE, &inner);
    out
}

/// The algorithm of a PKCS#8 PrivateKeyInfo / OneAsymmetricKey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pkcs8Algorithm {
    Rsa,
    Ed25519,
    Other,
}

/// Which algorithm a PKCS#8 key is for, or `None` if it is not PKCS#8.
pub(crate) fn pkcs8_algorithm(der: &[u8]) -> Option<Pkcs8Algorithm> {
    let (outer, _) = expect(der, TAG_SEQUENCE)?;
    let (_version, rest) = expect(outer, TAG_INTEGER)?;
    let (alg, _) = expect(rest, TAG_SEQUENCE)?;
    let (oid, _) = expect(alg, TAG_OID)?;
    Some(if oid == OID_RSA {
        Pkcs8Algorithm::Rsa
    } else if oid == OID_ED25519 {
        Pkcs8Algorithm::Ed25519
    } else {
        Pkcs8Algorithm::Other
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// RFC 8463 Appendix A.2, the RSA key of selector `test` (1024 bits).
    const RFC8463_RSA: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    #[test]
    fn finds_the_rsa_key_and_its_size() {
        let der = STANDARD.decode(RFC8463_RSA).unwrap();
        let key = rsa_public_key(&der).unwrap();
        assert_eq!(key.bits, 1024);
        // The bare RSAPublicKey is accepted too, and re-wrapping round-trips.
        let bare = rsa_public_key(key.der).unwrap();
        assert_eq!(bare.bits, 1024);
        assert_eq!(rsa_spki(key.der), der);
        assert!(rsa_public_key(&der[..der.len() - 1]).is_none());
        assert!(rsa_public_key(b"").is_none());
    }
}
