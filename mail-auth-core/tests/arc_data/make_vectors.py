#!/usr/bin/env python3
"""Interop vectors for postel-auth's ARC code, made with dkimpy.

Seals a message over two hops with dkimpy's ARC implementation and writes
the results next to this script:

  dkimpy_1hop.eml  one ARC Set (i=1, cv=none) by hop1.example
  dkimpy_2hop.eml  two ARC Sets, the second (cv=pass) by hop2.example

Every hop signs with the committed test key
tests/dkim_support/rsa2048_pkcs1.pem (selector "sel"); the tests publish
its public key at sel._domainkey.<hop>.example.

If postel_2hop.eml exists (written by `POSTEL_ARC_WRITE_VECTORS=1 cargo
test -p postel-auth --test arc_dkimpy`), dkimpy verifies it as well: the
other direction of the interop check.

Needs: pip install dkimpy authres cryptography
Run:   python3 tests/arc_data/make_vectors.py   (from mail-auth-core/)
"""

import base64
import os
import sys

import dkim
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
KEY_PKCS1 = os.path.join(HERE, "..", "dkim_support", "rsa2048_pkcs1.pem")
NOW = 1_700_000_000  # the tests' fixed clock (2023-11-14)

MESSAGE = (
    b"From: Joe <joe@origin.example>\r\n"
    b"To: list@hop1.example\r\n"
    b"Subject: interop test\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-ID: <interop-1@origin.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b"\r\n"
    b"this message was sealed by dkimpy.  \r\n"
    b"\r\n"
)


def key_record():
    with open(KEY_PKCS1, "rb") as f:
        private = serialization.load_pem_private_key(f.read(), password=None)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)


RECORD = key_record()


def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    if name.rstrip(".").endswith("._domainkey.hop1.example") or name.rstrip(
        "."
    ).endswith("._domainkey.hop2.example"):
        return RECORD
    return None


def seal(message, hop, cv_result):
    """Receive `message` at `hop`: add its Authentication-Results (with
    the arc= result dkimpy reads the cv from), then seal."""
    srv_id = ("mx." + hop).encode()
    arc = b"" if cv_result is None else b"; arc=" + cv_result
    ar = (
        b"Authentication-Results: " + srv_id
        + b"; spf=pass smtp.mailfrom=origin.example" + arc + b"\r\n"
    )
    message = ar + message
    with open(KEY_PKCS1, "rb") as f:
        key = f.read()
    sigs = dkim.arc_sign(
        message, b"sel", hop.encode(), key, srv_id, timestamp=NOW
    )
    if not sigs:
        sys.exit("dkimpy did not seal at " + hop)
    return b"".join(sigs) + message


def verify(message):
    cv, results, reason = dkim.arc_verify(message, dnsfunc=dnsfunc)
    return cv, reason


def main():
    one = seal(MESSAGE, "hop1.example", None)
    cv, reason = verify(one)
    assert cv == dkim.CV_Pass, (cv, reason)
    two = seal(one, "hop2.example", cv)
    cv, reason = verify(two)
    assert cv == dkim.CV_Pass, (cv, reason)
    for name, data in (("dkimpy_1hop.eml", one), ("dkimpy_2hop.eml", two)):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("wrote", name)
    ours = os.path.join(HERE, "postel_2hop.eml")
    if os.path.exists(ours):
        with open(ours, "rb") as f:
            cv, reason = verify(f.read())
        print("dkimpy on postel_2hop.eml:", cv, reason)
        if cv != dkim.CV_Pass:
            sys.exit("dkimpy did not pass the chain postel sealed")


if __name__ == "__main__":
    main()
