"""Postel's IMAP client session (the imap-fetch example) against Debian's
Dovecot IMAP server, run privately on a loopback port (see dovecot.py).

What imap-fetch lists and saves is checked against what Python's imaplib
gets from the same server: UIDs, sizes and flags, and every message byte for
byte, a 2 MB one included (streamed to disk by the client, never held whole).
"""

import imaplib
import re

import pytest

from conftest import binary, run
from dovecot import PASSWORD, USER, starter


def big_message() -> bytes:
    lines = [b"From: big@example.org", b"Subject: big", b""]
    lines += [(b"line %06d " % i) + b"abcdefghij" * 6 for i in range(30000)]
    return b"\n".join(lines) + b"\n"


MESSAGES = {
    ("cur", "1700000001.M1P1.postel:2,S"): (
        b"From: bob@example.org\nTo: alice@example.org\nSubject: first\n\nHello Alice.\n.leading dot\n"
    ),
    ("cur", "1700000002.M2P1.postel:2,FR"): (
        b"From: carol@example.org\r\nSubject: second\r\n\r\nCRLF body\r\n"
    ),
    ("new", "1700000003.M3P1.postel"): (
        "From: dave@example.org\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
        "Content-Type: text/plain; charset=utf-8\n\nGr\u00fc\u00dfe\n"
    ).encode(),
    ("new", "1700000004.M4P1.postel"): big_message(),
}


@pytest.fixture
def dovecot():
    yield from starter("imap", MESSAGES)


def imap_fetch(d, *extra, password=PASSWORD):
    return run(
        [
            str(binary("imap-fetch")),
            "--host", "127.0.0.1",
            "--port", str(d.port),
            "--user", USER,
            "--password", password,
            *extra,
        ]
    )


def imaplib_view(d):
    """UID -> (size, flags, body) as imaplib reads them."""
    m = imaplib.IMAP4("127.0.0.1", d.port)
    m.login(USER, PASSWORD)
    m.select("INBOX", readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    view = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = int(re.search(rb"UID (\d+)", head).group(1))
        size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
        flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode()
        view[uid] = (size, flags, body)
    m.logout()
    return view


def test_list_matches_imaplib(dovecot):
    d = dovecot()
    r = imap_fetch(d)
    assert r.returncode == 0, r.stdout + r.stderr
    view = imaplib_view(d)
    assert len(view) == len(MESSAGES)
    listed = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(\d+) (\d+) (.*)$", line)
        if m:
            listed[int(m.group(1))] = (int(m.group(2)), m.group(3))
    assert sorted(listed) == sorted(view)
    for uid, (size, flags) in listed.items():
        assert size == view[uid][0]
        # \Recent belongs to the first session that sees a message.
        ours = set(flags.replace("(", "").replace(")", "").split()) - {"\\Recent"}
        assert ours == set(view[uid][1].split()) - {"\\Recent"}
    assert f"listed {len(MESSAGES)} messages" in r.stdout


def test_save_every_message_byte_for_byte(dovecot, tmp_path):
    d = dovecot()
    out = tmp_path / "saved"
    r = imap_fetch(d, "--save", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    view = imaplib_view(d)
    saved = {int(p.stem): p.read_bytes() for p in out.iterdir() if p.suffix == ".eml"}
    assert sorted(saved) == sorted(view)
    for uid, body in saved.items():
        assert body == view[uid][2], f"UID {uid}"
    # The big one came through whole, in wire form (CRLF).
    assert any(len(b) > 2_000_000 for b in saved.values())
    assert sorted(saved.values()) == sorted(
        m.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for m in MESSAGES.values()
    )
    # BODY.PEEK: nothing became \Seen.
    assert sum("\\Seen" in v[1] for v in view.values()) == 1


def test_wrong_password_fails_cleanly(dovecot, tmp_path):
    d = dovecot()
    r = imap_fetch(d, password="wrong")
    assert r.returncode != 0
    assert "LOGIN failed: NO" in r.stderr
