"""Postel's POP3 client (the pop3-fetch example) against Debian's Dovecot.

Each test runs a Dovecot instance of its own (`dovecot -F -c CONFIG`, all
sockets, state and logs in a temporary folder, POP3 only, on a free
loopback port) over a Maildir it fills, and checks what pop3-fetch writes,
byte for byte, against the stored messages in their wire form (CRLF line
endings, last line closed) and against what Python's poplib gets from the
same server. The system's own Dovecot, if any, is never used.

Needs Debian's dovecot-pop3d: installed with apt-get when missing and we are
root, else the tests are skipped. The pop3-fetch binary comes from
target/release/examples (or POSTEL_EXAMPLES_DIR if set).
"""

import os
import pathlib
import poplib
import re
import shutil
import subprocess

import pytest

from conftest import binary
from dovecot import PASSWORD, USER, Dovecot, starter


def big_message() -> bytes:
    """About 2 MB of 76-character lines, one in 7 beginning with '.', so
    that dots fall on every kind of read and chunk boundary."""
    lines = [b"From: big@example.org", b"Subject: big", b""]
    for i in range(27000):
        line = (b"line %06d " % i) + b"abcdefghij" * 7
        lines.append((b"." + line[:74]) if i % 7 == 3 else line[:76])
    lines.append(b".")
    lines.append(b"..")
    lines.append(b"the end")
    return b"\n".join(lines) + b"\n"


# Maildir file name -> content. Lines beginning with "." test byte-stuffing;
# some files have CRLF line endings, one has no final newline, one no body.
MESSAGES = {
    ("cur", "1700000001.M1P1.postel:2,S"): (
        b"From: bob@example.org\nTo: alice@example.org\nSubject: first\n\n"
        b"Hello Alice.\n.leading dot\n..two dots\n.\n. space after dot\nlast line\n"
    ),
    ("new", "1700000002.M2P1.postel"): (
        b"From: carol@example.org\r\nTo: alice@example.org\r\nSubject: second\r\n\r\n"
        b"CRLF body\r\n.\r\n...\r\nend\r\n"
    ),
    ("new", "1700000003.M3P1.postel"): b"From: dave@example.org\nSubject: third\n\nno final newline",
    ("new", "1700000004.M4P1.postel"): b"From: erin@example.org\nSubject: no body\n\n",
    ("new", "1700000005.M5P1.postel"): (
        "From: frank@example.org\nSubject: =?UTF-8?Q?8bit?=\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\nGr\u00fc\u00dfe, \u00e7a va ?\n.\u00e9t\u00e9\n"
    ).encode(),
    ("new", "1700000006.M6P1.postel"): big_message(),
}


def wire_content(data: bytes) -> bytes:
    """The message as POP3 carries it: CRLF line endings, last line closed."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def example(name: str) -> pathlib.Path:
    folder = os.environ.get("POSTEL_EXAMPLES_DIR")
    if folder:
        path = pathlib.Path(folder) / name
        if not path.exists():
            pytest.fail(f"{path} is missing")
        return path
    return binary(name)


@pytest.fixture
def dovecot():
    yield from starter("pop3", MESSAGES)


def fetch(d: Dovecot, out: pathlib.Path, *extra, password=PASSWORD):
    args = [
        str(example("pop3-fetch")),
        "--server", f"127.0.0.1:{d.port}",
        "--user", USER,
        "--password", password,
        "--out", str(out),
        *extra,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def lines_of(stdout: str, word: str):
    return [line.split(" ", 1)[1] for line in stdout.splitlines() if line.startswith(word + " ")]


def poplib_view(d: Dovecot):
    """STAT, UIDL, LIST and every message as poplib gets them (no DELE)."""
    p = poplib.POP3("127.0.0.1", d.port, timeout=20)
    p.user(USER)
    p.pass_(PASSWORD)
    stat = p.stat()
    _, uidl, _ = p.uidl()
    _, listing, _ = p.list()
    bodies = []
    for n in range(1, stat[0] + 1):
        _, lines, _ = p.retr(n)
        # poplib strips the CRLF of each line and the stuffed dots.
        bodies.append(b"".join(line + b"\r\n" for line in lines))
    p.quit()
    return stat, [u.decode() for u in uidl], [entry.decode() for entry in listing], bodies


def fetched(out: pathlib.Path):
    """OUT/1.eml, OUT/2.eml ... in order."""
    names = sorted(out.iterdir(), key=lambda p: int(p.stem))
    assert [p.name for p in names] == [f"{n}.eml" for n in range(1, len(names) + 1)]
    return [p.read_bytes() for p in names]


def check_against_dovecot(d: Dovecot, r, out: pathlib.Path):
    assert r.returncode == 0, r.stdout + r.stderr
    stat, uidl, listing, bodies = poplib_view(d)
    assert stat[0] == len(MESSAGES)
    got = fetched(out)
    # Byte for byte what poplib reads from the same server, in the same order...
    assert got == bodies
    # ... which is each stored message in its wire form.
    assert sorted(got) == sorted(wire_content(m) for m in MESSAGES.values())
    assert lines_of(r.stdout, "STAT") == [f"{stat[0]} {stat[1]}"]
    assert lines_of(r.stdout, "UIDL") == uidl
    assert lines_of(r.stdout, "LIST") == listing
    retr = [line.split(" ") for line in lines_of(r.stdout, "RETR")]
    assert [(int(n), int(size)) for n, size, _ in retr] == [(i, len(b)) for i, b in enumerate(got, 1)]
    assert lines_of(r.stdout, "QUIT") == ["+OK Logging out."]
    total = sum(len(b) for b in got)
    assert r.stdout.splitlines()[-1] == f"fetched {len(MESSAGES)} messages ({total} octets), deleted 0"


def test_fetch_all_messages_plaintext(dovecot, tmp_path):
    d = dovecot()
    out = tmp_path / "out"
    r = fetch(d, out, "--tls", "none")
    check_against_dovecot(d, r, out)
    # Nothing was deleted.
    assert len(d.files()) == len(MESSAGES)


def test_opportunistic_without_stls_carries_on(dovecot, tmp_path):
    d = dovecot()
    out = tmp_path / "out"
    r = fetch(d, out)  # --tls opportunistic is the default
    check_against_dovecot(d, r, out)


def test_delete_then_second_fetch_sees_nothing(dovecot, tmp_path):
    d = dovecot()
    out = tmp_path / "first"
    r = fetch(d, out, "--tls", "none", "--delete")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(fetched(out)) == sorted(wire_content(m) for m in MESSAGES.values())
    assert lines_of(r.stdout, "DELE") == [str(n) for n in range(1, len(MESSAGES) + 1)]
    assert r.stdout.splitlines()[-1].endswith(f"deleted {len(MESSAGES)}")
    assert d.files() == []
    out2 = tmp_path / "second"
    r = fetch(d, out2, "--tls", "none")
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines_of(r.stdout, "STAT") == ["0 0"]
    assert lines_of(r.stdout, "RETR") == []
    assert r.stdout.splitlines()[-1] == "fetched 0 messages (0 octets), deleted 0"
    assert list(out2.iterdir()) == []
    stat, _, _, _ = poplib_view(d)
    assert stat == (0, 0)


def test_wrong_password_and_missing_stls_fail(dovecot, tmp_path):
    d = dovecot()
    r = fetch(d, tmp_path / "a", "--tls", "none", password="wrong")
    assert r.returncode == 1
    assert "login failed: -ERR [AUTH]" in r.stderr
    r = fetch(d, tmp_path / "b", "--tls", "required")
    assert r.returncode == 1
    assert "does not offer STLS" in r.stderr
    assert list((tmp_path / "b").iterdir()) == []
    # Neither session touched the maildrop.
    assert len(d.files()) == len(MESSAGES)


def test_stls_with_self_signed_certificate(dovecot, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = dovecot(tls=True)
    # Checked against the certificate as the only trust anchor.
    out = tmp_path / "out"
    r = fetch(d, out, "--tls", "required", "--ca", str(d.cert))
    check_against_dovecot(d, r, out)
    # Dovecot saw a PLAIN login over TLS.
    log = d.log.read_text()
    assert re.search(r"Login: user=<alice>, method=PLAIN, .*\bTLS\b", log), log
    # The certificate is not in the system bundle: refused, nothing fetched.
    system = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
    if system.exists():
        r = fetch(d, tmp_path / "refused", "--tls", "required", "--ca", str(system))
        assert r.returncode == 1
        assert "certificate" in r.stderr, r.stderr
        assert list((tmp_path / "refused").iterdir()) == []
    # --insecure takes it, with --delete this time.
    out = tmp_path / "insecure"
    r = fetch(d, out, "--tls", "required", "--insecure", "--delete")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(fetched(out)) == sorted(wire_content(m) for m in MESSAGES.values())
    assert d.files() == []
