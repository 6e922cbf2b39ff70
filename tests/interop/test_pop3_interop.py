"""Programs we did not write against Postel's pop3-server example: Python's
poplib, curl and fetchmail, over loopback."""

import os
import poplib
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import run

# Maildir file name -> content. Lines that begin with "." test byte-stuffing;
# one file has CRLF line endings, one has no final newline.
MESSAGES = {
    ("cur", "1700000001.M1P1.host:2,S"): (
        b"From: bob@example.org\nTo: alice@example.org\nSubject: first\n\n"
        b"Hello Alice.\n.leading dot\n..two dots\n.\n. space after dot\nlast line\n"
    ),
    ("new", "1700000002.M2P1.host"): (
        b"From: carol@example.org\r\nTo: alice@example.org\r\nSubject: second\r\n\r\n"
        b"CRLF body\r\n.\r\n...\r\nend\r\n"
    ),
    ("new", "1700000003.M3P1.host"): (
        b"From: dave@example.org\nSubject: third\n\nno final newline"
    ),
}


def to_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def wire_content(data: bytes) -> bytes:
    """The message as POP3 carries it: CRLF line endings, last line closed."""
    data = to_crlf(data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def ordered():
    """Messages in the server's order: cur/ then new/, by name."""
    return [MESSAGES[k] for k in sorted(MESSAGES, key=lambda k: (k[0] != "cur", k[1]))]


def uids():
    keys = sorted(MESSAGES, key=lambda k: (k[0] != "cur", k[1]))
    return [name.split(":")[0] for _, name in keys]


@pytest.fixture
def maildir(tmp_path):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for (sub, name), content in MESSAGES.items():
        (root / sub / name).write_bytes(content)
    return root


def login(port, user="alice", password="secret"):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user(user)
    p.pass_(password)
    return p


def login_when_unlocked(port, tries=50):
    for _ in range(tries):
        try:
            return login(port)
        except poplib.error_proto as e:
            if b"[IN-USE]" not in e.args[0]:
                raise
            time.sleep(0.1)
    raise AssertionError("the maildrop stayed locked")


def test_poplib_user_pass_stat_list_uidl_retr_top(pop3_server, maildir):
    s = pop3_server(maildir)
    p = login(s.port)
    msgs = ordered()
    count, size = p.stat()
    assert count == len(msgs)
    assert size == sum(len(wire_content(m)) for m in msgs)
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK 3 messages")
    assert listing == [f"{i} {len(wire_content(m))}".encode() for i, m in enumerate(msgs, 1)]
    assert p.list(2) == f"+OK 2 {len(wire_content(msgs[1]))}".encode()
    resp, ids, _ = p.uidl()
    assert ids == [f"{i} {u}".encode() for i, u in enumerate(uids(), 1)]
    assert p.uidl(3) == f"+OK 3 {uids()[2]}".encode()
    for i, m in enumerate(msgs, 1):
        resp, lines, octets = p.retr(i)
        assert resp == f"+OK {len(wire_content(m))} octets".encode()
        # poplib strips line endings and the stuffed dots: byte-exact lines.
        assert lines == wire_content(m)[:-2].split(b"\r\n"), i
    resp, lines, _ = p.top(1, 0)
    assert lines == [b"From: bob@example.org", b"To: alice@example.org", b"Subject: first", b""]
    resp, lines, _ = p.top(1, 2)
    assert lines[-2:] == [b"Hello Alice.", b".leading dot"]
    assert p.noop() == b"+OK"
    with pytest.raises(poplib.error_proto, match="no such message"):
        p.retr(9)
    assert p.quit().startswith(b"+OK")


def test_poplib_apop(pop3_server, maildir):
    s = pop3_server(maildir)
    p = poplib.POP3("127.0.0.1", s.port, timeout=10)
    assert b"<" in p.getwelcome()
    resp = p.apop("alice", "secret")
    assert resp.startswith(b"+OK alice's maildrop has 3 messages")
    assert p.stat()[0] == 3
    p.quit()
    p = poplib.POP3("127.0.0.1", s.port, timeout=10)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.apop("alice", "wrong")
    p.quit()


def test_poplib_capa(pop3_server, maildir):
    s = pop3_server(maildir)
    p = poplib.POP3("127.0.0.1", s.port, timeout=10)
    caps = p.capa()
    for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "UTF8", "LANG"):
        assert cap in caps, cap
    assert caps["SASL"] == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
    assert "STLS" not in caps
    p.user("alice")
    p.pass_("secret")
    caps = p.capa()
    assert "USER" not in caps and "SASL" not in caps and "TOP" in caps
    p.quit()


def test_poplib_wrong_password(pop3_server, maildir):
    s = pop3_server(maildir)
    p = poplib.POP3("127.0.0.1", s.port, timeout=10)
    p.user("alice")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.pass_("wrong")
    p.quit()


def test_dele_quit_then_reconnect_sees_fewer(pop3_server, maildir):
    s = pop3_server(maildir)
    p = login(s.port)
    assert p.dele(1) == b"+OK message 1 deleted"
    assert p.stat()[0] == 2
    # Dropped without QUIT: nothing is removed, and the lock goes once the
    # server has seen the connection close.
    p.close()  # no QUIT
    p = login_when_unlocked(s.port)
    assert p.stat()[0] == 3
    p.dele(1)
    p.dele(3)
    assert p.quit() == b"+OK pop3.postel.test POP3 server signing off (1 message left)"
    p = login(s.port)
    count, _ = p.stat()
    assert count == 1
    resp, lines, _ = p.retr(1)
    assert lines == wire_content(ordered()[1])[:-2].split(b"\r\n")
    p.quit()
    # Without --delete-files the files stay.
    assert len(list((maildir / "new").iterdir())) == 2


def test_delete_files(pop3_server, maildir):
    s = pop3_server(maildir, "--delete-files")
    p = login(s.port)
    p.dele(1)
    p.quit()
    assert list((maildir / "cur").iterdir()) == []
    assert len(list((maildir / "new").iterdir())) == 2


def test_second_session_gets_in_use(pop3_server, maildir):
    s = pop3_server(maildir)
    first = login(s.port)
    second = poplib.POP3("127.0.0.1", s.port, timeout=10)
    second.user("alice")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_("secret")
    first.quit()
    second.user("alice")
    assert second.pass_("secret").startswith(b"+OK")
    second.quit()


def test_poplib_stls(pop3_server, maildir):
    s = pop3_server(maildir, "--tls")
    p = poplib.POP3("127.0.0.1", s.port, timeout=10)
    caps = p.capa()
    assert "STLS" in caps
    assert "USER" not in caps
    assert caps["SASL"] == ["SCRAM-SHA-256"]
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.user("alice")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    assert p.stls(context=ctx).startswith(b"+OK")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    p.user("alice")
    p.pass_("secret")
    resp, lines, _ = p.retr(1)
    assert lines == wire_content(ordered()[0])[:-2].split(b"\r\n")
    p.quit()


def test_stls_plaintext_injection_is_ignored(pop3_server, maildir):
    s = pop3_server(maildir, "--tls")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"+OK")
        sock.sendall(b"STLS\r\nUSER alice\r\nPASS secret\r\n")
        assert f.readline() == b"+OK Begin TLS negotiation\r\n"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(sock, server_hostname="pop3.postel.test") as tls:
            tf = tls.makefile("rb")
            # The pipelined USER/PASS were never read: PASS alone is refused.
            tls.sendall(b"PASS secret\r\n")
            assert tf.readline() == b"-ERR Send USER first\r\n"
            tls.sendall(b"QUIT\r\n")
            assert tf.readline().startswith(b"+OK")


def curl_or_skip():
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl is not installed")
    return curl


def test_curl_lists_and_retrieves(pop3_server, maildir):
    curl = curl_or_skip()
    s = pop3_server(maildir)
    url = f"pop3://127.0.0.1:{s.port}/"
    r = subprocess.run([curl, "-sS", "--max-time", "20", "-u", "alice:secret", url], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    msgs = ordered()
    assert r.stdout.split(b"\r\n")[:-1] == [f"{i} {len(wire_content(m))}".encode() for i, m in enumerate(msgs, 1)]
    for i, m in enumerate(msgs, 1):
        r = subprocess.run([curl, "-sS", "--max-time", "20", "-u", "alice:secret", f"{url}{i}"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == wire_content(m), i


def test_curl_over_stls(pop3_server, maildir):
    curl = curl_or_skip()
    s = pop3_server(maildir, "--tls")
    url = f"pop3://127.0.0.1:{s.port}/1"
    r = subprocess.run(
        [curl, "-sS", "--max-time", "20", "--ssl-reqd", "-k", "-u", "alice:secret", url],
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire_content(ordered()[0])


def fetchmail_or_skip():
    path = shutil.which("fetchmail")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("fetchmail is not installed (and we are not root to install it)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "fetchmail"], capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "fetchmail"], capture_output=True, text=True, env=env, timeout=600)
    path = shutil.which("fetchmail")
    if not path:
        pytest.skip(f"could not install fetchmail: {r.stderr[-500:]}")
    return path


def test_fetchmail_retrieves_every_message(pop3_server, maildir, tmp_path):
    fetchmail = fetchmail_or_skip()
    s = pop3_server(maildir)
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 with proto POP3 service {s.port} auth password\n'
        f'    user "alice" there with password "secret"\n'
    )
    rc.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), FETCHMAILHOME=str(home))
    r = subprocess.run(
        [
            fetchmail, "-f", str(rc), "--nodetach", "--nosyslog", "-v", "--all",
            "-p", "POP3", "--service", str(s.port), "--sslproto", "",
            "--mda", f"cat >> {out}", "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    delivered = out.read_bytes()
    for subject in (b"first", b"second", b"third"):
        assert b"Subject: " + subject in delivered, subject
    # Stuffed dots came back as sent.
    assert b"\n.leading dot" in delivered.replace(b"\r\n", b"\n")
    assert b"\n..two dots" in delivered.replace(b"\r\n", b"\n")
    # fetchmail deletes what it fetched (no --keep): the maildrop is empty.
    p = login(s.port)
    assert p.stat() == (0, 0)
    p.quit()


def test_server_rejects_garbage(pop3_server, maildir):
    s = pop3_server(maildir)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"X" * 300 + b"\r\nNOOP\r\n")
        assert f.readline() == b"-ERR Line too long\r\n"
        assert f.readline() == b"-ERR NOOP is not valid in the AUTHORIZATION state\r\n"
    assert run(["true"]).returncode == 0
