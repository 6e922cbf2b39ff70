"""Programs we did not write against Postel's imap-server example over
loopback: Python's imaplib, curl and mbsync (isync).

The example serves an in-memory store loaded from a Maildir the test fills;
each test starts its own server on a free port.
"""

import imaplib
import os
import re
import shutil
import ssl
import subprocess

import pytest

from conftest import binary, run

USER = "alice"
PASSWORD = "secret"

# Maildir file name -> content: a plain message, a multipart one with an
# attachment, one with a folded header and 8-bit text, one with CRLF.
MESSAGES = {
    ("cur", "1700000001.M1P1.postel:2,S"): (
        b"From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: first\n"
        b"Date: Mon, 13 Nov 2023 10:00:00 +0000\nMessage-ID: <first@example.org>\n\n"
        b"Hello Alice.\n.leading dot\nlast line\n"
    ),
    ("new", "1700000002.M2P1.postel"): (
        b"From: carol@example.org\r\nTo: alice@example.org\r\nSubject: second\r\n"
        b"Date: Tue, 14 Nov 2023 11:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
        b"preamble\r\n--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"the text part\r\n--XX\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\n"
        b"AAECAwQFBgcICQ==\r\n--XX--\r\n"
    ),
    ("new", "1700000003.M3P1.postel"): (
        "From: dave@example.org\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and\n a folded subject\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Gr\u00fc\u00dfe, \u00e7a va ?\nneedle in the body\n"
    ).encode(),
}


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def ordered():
    """The messages in the server's order (cur/ then new/, by name), in wire
    form: the example serves bare-LF files with CRLF line ends."""
    keys = sorted(MESSAGES, key=lambda k: (k[0] != "cur", k[1]))
    return [crlf(MESSAGES[k]) for k in keys]


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


@pytest.fixture
def maildir(tmp_path):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for (sub, name), content in MESSAGES.items():
        (root / sub / name).write_bytes(content)
    return root


def connect(server) -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", server.port)
    m.login(USER, PASSWORD)
    return m


def test_imaplib_login_list_select_fetch(imap_server, maildir):
    s = imap_server(maildir)
    m = connect(s)
    typ, data = m.list()
    assert typ == "OK" and data == [b'(\\HasNoChildren) "/" INBOX']
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"3"]
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
    assert typ == "OK"
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
    assert sizes == [len(x) for x in ordered()]
    assert b"\\Seen" in data[0] and b"\\Seen" not in data[1]
    for i, content in enumerate(ordered(), start=1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[])")
        assert typ == "OK"
        assert data[0][1] == content
    m.logout()


def test_imaplib_envelope_bodystructure_and_sections(imap_server, maildir):
    s = imap_server(maildir)
    m = connect(s)
    m.select("INBOX")
    typ, data = m.fetch("1", "(ENVELOPE)")
    assert typ == "OK"
    assert data[0] == (
        b'1 (ENVELOPE ("Mon, 13 Nov 2023 10:00:00 +0000" "first" (("Bob" NIL "bob" "example.org")) '
        b'(("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org")) '
        b'((NIL NIL "alice" "example.org")) NIL NIL NIL "<first@example.org>"))'
    )
    typ, data = m.fetch("2", "(BODYSTRUCTURE)")
    assert data[0] == (
        b'2 (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 16 NIL '
        b'("ATTACHMENT" ("FILENAME" "a.bin")) NIL NIL) "MIXED" ("BOUNDARY" "XX") NIL NIL NIL))'
    )
    typ, data = m.fetch("2", "(BODY.PEEK[1])")
    assert data[0] == b'2 (BODY[1] "the text part")'
    typ, data = m.fetch("2", "(BODY.PEEK[2.MIME] BINARY.PEEK[2])")
    literals = [x[1] for x in data if isinstance(x, tuple)]
    assert literals[0].startswith(b"Content-Type: application/octet-stream;")
    assert literals[0].endswith(b"\r\n\r\n")
    # BINARY decodes the base64; with a NUL in it, it comes as literal8.
    assert literals[1] == bytes(range(10))
    assert b"BINARY[2] ~{10}" in data[1][0]
    typ, data = m.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and\r\n a folded subject\r\n\r\n"
    typ, data = m.fetch("1", "(BODY.PEEK[]<0.10>)")
    assert data[0] == b'1 (BODY[]<0> "From: Bob ")'
    m.logout()


def test_imaplib_search_store_copy_move_expunge(imap_server, maildir):
    s = imap_server(maildir)
    m = connect(s)
    m.select("INBOX")
    assert m.search(None, "ALL") == ("OK", [b"1 2 3"])
    assert m.search(None, "SEEN") == ("OK", [b"1"])
    assert m.search(None, "UNSEEN") == ("OK", [b"2 3"])
    assert m.search(None, "FROM", "carol") == ("OK", [b"2"])
    assert m.search(None, "BODY", "needle") == ("OK", [b"3"])
    assert m.search(None, "OR", "SUBJECT", "first", "SUBJECT", "second") == ("OK", [b"1 2"])
    assert m.search(None, "NOT", "SEEN", "LARGER", "200") == ("OK", [b"2"])
    typ, data = m.store("2", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    assert m.search(None, "FLAGGED") == ("OK", [b"2"])
    assert m.create("Archive")[0] == "OK"
    typ, data = m.copy("1", "Archive")
    assert typ == "OK" and b"COPYUID" in data[0]
    typ, data = m.uid("MOVE", "3", "Archive")
    assert typ == "OK"
    assert m.select("INBOX")[1] == [b"2"]
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"]
    assert m.select("Archive")[1] == [b"2"]
    typ, data = m.fetch("2", "(BODY.PEEK[])")
    assert data[0][1] == ordered()[2]
    m.logout()


def test_imaplib_append_with_literal_and_status(imap_server, maildir):
    s = imap_server(maildir)
    m = connect(s)
    msg = b"From: me@example.org\r\nSubject: appended\r\n\r\n" + b"x" * 5000 + b"\r\n"
    typ, data = m.append("INBOX", "(\\Seen $Custom)", None, msg)
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
    assert data == [b"INBOX (MESSAGES 4 UIDNEXT 5 UNSEEN 2)"]
    m.select("INBOX")
    typ, data = m.fetch("4", "(FLAGS BODY.PEEK[])")
    assert b"$Custom" in data[0][0] and data[0][1] == msg
    typ, data = m.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()


def test_imaplib_idle_sees_another_sessions_append(imap_server, maildir):
    s = imap_server(maildir)
    a = connect(s)
    a.select("INBOX")
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    assert a.readline().startswith(b"+ ")
    b = connect(s)
    b.append("INBOX", None, None, b"Subject: during idle\r\n\r\nhi\r\n")
    b.logout()
    a.sock.settimeout(10)
    line = a.readline()
    assert line == b"* 4 EXISTS\r\n"
    a.send(b"DONE\r\n")
    assert a.readline() == tag + b" OK IDLE terminated\r\n"
    a.logout()


def test_imaplib_starttls_and_logindisabled(imap_server, maildir):
    s = imap_server(maildir, "--tls")
    m = imaplib.IMAP4("127.0.0.1", s.port)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|disabled"):
        m.login(USER, PASSWORD)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m.starttls(ssl_context=ctx)
    assert "LOGINDISABLED" not in m.capabilities
    m.login(USER, PASSWORD)
    assert m.select("INBOX")[1] == [b"3"]
    m.logout()


def test_imaplib_authenticate_plain(imap_server, maildir):
    s = imap_server(maildir)
    m = imaplib.IMAP4("127.0.0.1", s.port)
    typ, _ = m.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
    assert typ == "OK"
    m.logout()


def curl(*args):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    return run(["curl", "-sS", "--max-time", "20", "-u", f"{USER}:{PASSWORD}", *args])


def test_curl_list_fetch_search(imap_server, maildir):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    s = imap_server(maildir)
    base = f"imap://127.0.0.1:{s.port}"
    r = curl(f"{base}/")
    assert r.returncode == 0, r.stderr
    assert '"/" INBOX' in r.stdout
    for uid, content in enumerate(ordered(), start=1):
        r = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-u", f"{USER}:{PASSWORD}", f"{base}/INBOX;UID={uid}"],
            capture_output=True, timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout == content
    r = curl(f"{base}/INBOX?SUBJECT%20second")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "* SEARCH 2"
    r = curl(f"{base}/INBOX", "-X", "UID FETCH 1:* (FLAGS)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("FETCH") == 3


def test_curl_starttls_required(imap_server, maildir):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    s = imap_server(maildir, "--tls")
    r = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-u", f"{USER}:{PASSWORD}", "--ssl-reqd", "-k",
         f"imap://127.0.0.1:{s.port}/INBOX;UID=1"],
        capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ordered()[0]


def mbsync_installed():
    if shutil.which("mbsync"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "isync"]
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        subprocess.run(cmd, capture_output=True, env=env, timeout=600)
    return bool(shutil.which("mbsync"))


def mbsync_config(tmp_path, port, local, tls):
    conf = tmp_path / "mbsyncrc"
    conf.write_text(
        f"""IMAPAccount postel
Host 127.0.0.1
Port {port}
User {USER}
Pass {PASSWORD}
{"SSLType STARTTLS" if tls else "SSLType None"}
AuthMechs {"PLAIN" if tls else "LOGIN"}

IMAPStore postel-remote
Account postel

MaildirStore postel-local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel postel
Far :postel-remote:
Near :postel-local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
"""
    )
    return conf


def local_messages(folder):
    """The messages of a local Maildir folder, without the X-TUID header
    that mbsync adds to what it copies (its own bookkeeping)."""
    out = []
    for sub in ("cur", "new"):
        d = folder / sub
        if d.exists():
            out.extend(re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", p.read_bytes()) for p in d.iterdir())
    return sorted(out)


def test_mbsync_syncs_the_whole_account(imap_server, maildir, tmp_path):
    if not mbsync_installed():
        pytest.skip("mbsync (isync) is not installed")
    s = imap_server(maildir)
    m = connect(s)
    m.create("Archive/2023")
    m.append("Archive/2023", "(\\Seen)", None, b"Subject: archived\r\n\r\nold\r\n")
    m.logout()
    local = tmp_path / "local"
    local.mkdir()
    conf = mbsync_config(tmp_path, s.port, local, tls=False)
    r = run(["mbsync", "-c", str(conf), "-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert local_messages(local / "INBOX") == sorted(lf(x) for x in ordered())
    assert local_messages(local / "Archive" / "2023") == [b"Subject: archived\n\nold\n"]
    # A message written locally goes up; a flag set locally too.
    newfile = local / "INBOX" / "new" / "1800000000.local.postel"
    newfile.write_bytes(b"Subject: from mbsync\n\npushed\n")
    r = run(["mbsync", "-c", str(conf), "-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    m = connect(s)
    m.select("INBOX")
    typ, data = m.search(None, "SUBJECT", '"from mbsync"')
    assert data[0] != b""
    typ, data = m.fetch(data[0].split()[-1].decode(), "(BODY.PEEK[])")
    # mbsync marks what it uploads with an X-TUID header of its own.
    assert re.sub(rb"X-TUID: [^\r]*\r\n", b"", data[0][1]) == b"Subject: from mbsync\r\n\r\npushed\r\n"
    m.logout()
    # A second run with nothing new changes nothing.
    r = run(["mbsync", "-c", str(conf), "-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(local_messages(local / "INBOX")) == 4


def server_certificate(port) -> str:
    """The certificate the server shows after STARTTLS, as PEM."""
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{port}", "-showcerts"],
        input="", capture_output=True, text=True, timeout=30,
    )
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    assert m, r.stdout + r.stderr
    return m.group(0) + "\n"


def test_mbsync_over_starttls(imap_server, maildir, tmp_path):
    if not mbsync_installed():
        pytest.skip("mbsync (isync) is not installed")
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    s = imap_server(maildir, "--tls")
    local = tmp_path / "local"
    local.mkdir()
    conf = mbsync_config(tmp_path, s.port, local, tls=True)
    # The certificate is self-signed: mbsync trusts a certificate that its
    # CertificateFile holds.
    cert = tmp_path / "server.pem"
    cert.write_text(server_certificate(s.port))
    conf.write_text(conf.read_text().replace("SSLType STARTTLS", f"SSLType STARTTLS\nCertificateFile {cert}"))
    r = run(["mbsync", "-c", str(conf), "-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert local_messages(local / "INBOX") == sorted(lf(x) for x in ordered())


def test_our_client_against_our_server(imap_server, maildir, tmp_path):
    s = imap_server(maildir)
    out = tmp_path / "saved"
    r = run([str(binary("imap-fetch")), "--host", "127.0.0.1", "--port", str(s.port),
             "--user", USER, "--password", PASSWORD, "--save", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    saved = [(out / f"{uid}.eml").read_bytes() for uid in range(1, len(MESSAGES) + 1)]
    assert saved == ordered()


def test_compress_deflate_with_python_zlib(imap_server, maildir):
    """RFC 4978 with Python's zlib as the peer: raw deflate both ways."""
    import socket
    import zlib

    s = imap_server(maildir, "--compress")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    f = sock.makefile("rb")
    assert b"COMPRESS=DEFLATE" in f.readline()
    sock.sendall(b"a LOGIN alice secret\r\n")
    while not f.readline().startswith(b"a OK"):
        pass
    sock.sendall(b"b COMPRESS DEFLATE\r\n")
    assert f.readline() == b"b OK DEFLATE active\r\n"
    out = zlib.compressobj(6, zlib.DEFLATED, -15)
    inp = zlib.decompressobj(-15)

    def send(line: bytes):
        sock.sendall(out.compress(line) + out.flush(zlib.Z_SYNC_FLUSH))

    def read_until(tag: bytes) -> bytes:
        got = b""
        while not re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r]*\r\n$", got):
            chunk = sock.recv(65536)
            assert chunk, got
            got += inp.decompress(chunk)
        return got

    send(b"c SELECT INBOX\r\n")
    assert b"* 3 EXISTS\r\n" in read_until(b"c")
    send(b"d FETCH 1:* (BODY.PEEK[])\r\n")
    got = read_until(b"d")
    for content in ordered():
        assert content in got
    send(b"e LOGOUT\r\n")
    assert b"* BYE" in read_until(b"e")
    sock.close()
