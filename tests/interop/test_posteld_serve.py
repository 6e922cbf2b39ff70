"""posteld serve: real clients (smtplib, swaks) send mail; posteld
authenticates it and stores it with Authentication-Results prepended."""

import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import free_port, posteld, wait_for_port

MESSAGE = (
    "From: Alice <alice@example.com>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: posteld serve test\r\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <serve-1@example.com>\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "this message is signed and should pass every check.\r\n"
)


@pytest.fixture
def served(tmp_path):
    key = tmp_path / "s1.pem"
    line = subprocess.run(
        [str(posteld()), "auth", "keygen", "--algorithm", "ed25519", "--domain", "example.com",
         "--selector", "s1", "--out", str(key)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    zone = tmp_path / "example.zone"
    zone.write_text(
        "$TTL 300\n"
        'example.com. IN TXT "v=spf1 ip4:127.0.0.1 -all"\n'
        '_dmarc.example.com. IN TXT "v=DMARC1; p=reject"\n'
        "mail.example.com. IN A 127.0.0.1\n"
        "1.0.0.127.in-addr.arpa. IN PTR mail.example.com.\n"
        f"{line}\n"
    )
    plain = tmp_path / "plain.eml"
    plain.write_bytes(MESSAGE.encode())
    signed = subprocess.run(
        [str(posteld()), "auth", "sign", "--domain", "example.com", "--selector", "s1",
         "--key", str(key), str(plain)],
        capture_output=True, check=True,
    ).stdout
    maildir = tmp_path / "mail"
    port = free_port()
    proc = subprocess.Popen(
        [str(posteld()), "serve", "--listen", f"127.0.0.1:{port}", "--maildir", str(maildir),
         "--hostname", "mx.example.net", "--zone", str(zone), "--enforce-dmarc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_port(port, proc)
        yield port, maildir, signed, plain
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stored(maildir, count=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted((maildir / "new").iterdir())
        if len(files) >= count:
            return [f.read_bytes() for f in files]
        time.sleep(0.05)
    pytest.fail("the message was not delivered")


def test_smtplib_signed_message_passes_every_check(served):
    port, maildir, signed, _ = served
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo("mail.example.com")
        s.sendmail("alice@example.com", ["bob@example.net"], signed)
    (data,) = stored(maildir)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("Return-Path: <alice@example.com>\r\nReceived: from mail.example.com")
    unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ")
    ar = next(l for l in unfolded.split("\r\n") if l.startswith("Authentication-Results:"))
    assert ar.startswith("Authentication-Results: mx.example.net;"), ar
    for expected in ("spf=pass", "smtp.mailfrom=alice@example.com", "dkim=pass", "header.d=example.com",
                     "header.s=s1", "dmarc=pass", "header.from=example.com", "iprev=pass"):
        assert expected in ar, (expected, ar)
    # The message itself follows, untouched.
    assert data.endswith(signed)


def test_unsigned_forgery_is_refused_under_dmarc_reject(served):
    port, maildir, _, plain = served
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo("mail.example.com")
        # SPF fails for the MAIL FROM domain (a different domain), and
        # there is no DKIM signature: DMARC for example.com fails, p=reject.
        with pytest.raises(smtplib.SMTPDataError) as refused:
            s.sendmail("someone@elsewhere.example", ["bob@example.net"], plain.read_bytes())
    assert refused.value.smtp_code == 550
    assert b"DMARC" in refused.value.smtp_error
    assert not list((maildir / "new").iterdir())


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers_with_authentication_results(served, tmp_path):
    port, maildir, signed, _ = served
    msg = tmp_path / "signed.eml"
    msg.write_bytes(signed)
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "mail.example.com",
         "--from", "alice@example.com", "--to", "bob@example.net", "--data", str(msg)],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (data,) = stored(maildir)
    assert b"dkim=pass" in data and b"dmarc=pass" in data
