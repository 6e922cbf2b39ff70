"""Programs we did not write against Postel's SMTP and LMTP examples, and
Postel's `send` example against a server we did not write (aiosmtpd)."""

import asyncio
import shutil
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage

import pytest

from conftest import binary, free_port, run


def message(subject="interop", body="Hello from Python.\n", sender="alice@example.org", to="bob@example.net"):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    return m


def test_smtplib_sends_a_message(sink):
    s = sink()
    with smtplib.SMTP("127.0.0.1", s.port, local_hostname="client.example") as c:
        code, caps = c.ehlo()
        assert code == 250
        for ext in ("pipelining", "8bitmime", "smtputf8", "size", "dsn", "enhancedstatuscodes", "chunking"):
            assert c.has_extn(ext), ext
        refused = c.send_message(message(body="line one\n.leading dot\nlast\n"))
        assert refused == {}
    msgs = s.messages()
    assert len(msgs) == 1
    assert b"\r\n.leading dot\r\n" in msgs[0]
    assert b"Return-Path: <alice@example.org>" in msgs[0]


def test_smtplib_smtputf8_addresses(sink):
    s = sink()
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        m = message(sender="алиса@пример.рф", to="боб@example.net", subject="Привет", body="Тело письма\n")
        refused = c.send_message(m)  # smtplib adds SMTPUTF8 itself
        assert refused == {}
    msgs = s.messages()
    assert len(msgs) == 1
    assert "алиса@пример.рф".encode() in msgs[0]


def test_utf8_address_without_smtputf8_is_refused(sink):
    s = sink()
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"HELO x\r\n")
        f.readline()
        sock.sendall("MAIL FROM:<алиса@пример.рф>\r\n".encode())
        reply = f.readline()
        assert reply.startswith(b"553 5.6.7"), reply


def test_smtplib_8bitmime_body(sink):
    s = sink()
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        c.ehlo()
        raw = "From: a@example.org\r\nTo: b@example.net\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, Straße\r\n".encode()
        refused = c.sendmail("a@example.org", ["b@example.net"], raw, mail_options=["BODY=8BITMIME"])
        assert refused == {}
    assert "Grüße, Straße".encode() in s.messages()[0]


def test_pipelined_transaction_replies_in_order(sink):
    """RFC 2920: a whole transaction in one write; the replies come in order."""
    s = sink()
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        f = sock.makefile("rb")
        assert f.readline().startswith(b"220 ")
        sock.sendall(b"EHLO pipe.example\r\n")
        line = f.readline()
        while line[3:4] == b"-":
            line = f.readline()
        batch = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c%d@relay.example>\r\nRCPT TO:<d@example.net>\r\nDATA\r\n"
        sock.sendall(batch)
        codes = [f.readline()[:3] for _ in range(5)]
        assert codes == [b"250", b"250", b"553", b"250", b"354"]
        sock.sendall(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        assert f.readline().startswith(b"250 2.0.0")
        assert f.readline().startswith(b"221 ")
    assert b"Subject: pipelined" in s.messages()[0]


def test_smtplib_starttls(sink):
    s = sink("--tls")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        code, _ = c.starttls(context=ctx)
        assert code == 220
        c.ehlo()
        assert not c.has_extn("starttls")
        assert c.send_message(message(subject="over tls")) == {}
    assert b"ESMTPS" in s.messages()[0]


def test_smuggling_attempt_is_refused_over_the_wire(sink):
    s = sink()
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"HELO x\r\n")
        f.readline()
        sock.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        assert [f.readline()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
        sock.sendall(b"Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nforged\r\n.\r\n")
        reply = f.readline()
        assert reply.startswith(b"550 5.6.0"), reply
        sock.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221")
    assert s.messages() == []


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (CI installs it)")
@pytest.mark.parametrize("extra", [[], ["--pipeline"], ["--tls"]], ids=["plain", "pipeline", "starttls"])
def test_swaks(sink, extra):
    s = sink("--tls")
    r = run(["swaks", "--server", f"127.0.0.1:{s.port}", "--from", "a@example.org", "--to", "b@example.net", "--helo", "swaks.example", *extra])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued" in r.stdout
    assert len(s.messages()) == 1


def test_smtplib_lmtp_per_recipient_replies(lmtp_sink):
    s = lmtp_sink("--reject", "carol")
    c = smtplib.LMTP("127.0.0.1", s.port)
    try:
        code, _ = c.ehlo()  # smtplib.LMTP sends LHLO
        assert code == 250
        assert c.mail("alice@test.net")[0] == 250
        for r in ("bob@example.com", "dave@example.com", "carol@example.com"):
            assert c.rcpt(r)[0] == 250
        code, text = c.data(b"Subject: lmtp\r\n\r\nhello\r\n")
        # smtplib reads the first per-recipient reply; read the others ourselves.
        replies = [(code, text), c.getreply(), c.getreply()]
        assert [r[0] for r in replies] == [250, 250, 550]
        assert b"<carol@example.com>" in replies[2][1]
    finally:
        c.quit()
    assert len(list((s.out / "bob" / "new").iterdir())) == 1
    assert len(list((s.out / "dave" / "new").iterdir())) == 1
    assert not (s.out / "carol").exists()


def test_smtplib_lmtp_single_refused_recipient(lmtp_sink):
    s = lmtp_sink("--reject", "carol")
    with smtplib.LMTP("127.0.0.1", s.port) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@test.net", ["carol@example.com"], b"Subject: x\r\n\r\nhi\r\n")
        assert e.value.smtp_code == 550


class AiosmtpdServer:
    """aiosmtpd in a thread, recording what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.envelopes = []
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.startswith("nobody@"):
                    return "550 5.1.1 No such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                return "250 2.0.0 Message accepted"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def aiosmtpd_server():
    pytest.importorskip("aiosmtpd")
    s = AiosmtpdServer()
    yield s
    s.stop()


def test_send_example_against_aiosmtpd(aiosmtpd_server, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@example.org\r\nSubject: from postel\r\n\r\n.starts with a dot\r\nend\r\n")
    r = run([str(binary("send")), "--server", f"127.0.0.1:{aiosmtpd_server.port}", "--from", "a@example.org",
             "--to", "b@example.net", "--to", "nobody@example.net", "--tls", "none", str(msg)])
    assert "<b@example.net>: accepted: 250 2.0.0 Message accepted" in r.stdout, r.stdout + r.stderr
    assert "<nobody@example.net>: rejected: 550 5.1.1 No such user" in r.stdout
    assert r.returncode == 1  # not every recipient accepted
    assert len(aiosmtpd_server.envelopes) == 1
    mail_from, rcpts, content = aiosmtpd_server.envelopes[0]
    assert mail_from == "a@example.org" and rcpts == ["b@example.net"]
    assert b"\r\n.starts with a dot\r\nend\r\n" in content


def test_send_example_against_our_sink_with_starttls_and_bdat(sink, tmp_path):
    s = sink("--tls")
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: bdat\r\n\r\n" + b"x" * 100_000 + b"\r\n")
    r = run([str(binary("send")), "--server", f"127.0.0.1:{s.port}", "--from", "a@example.org", "--to", "b@example.net",
             "--tls", "required", "--insecure", str(msg)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "accepted: 250 2.0.0" in r.stdout
    assert b"x" * 100_000 in s.messages()[0]
    assert b"ESMTPS" in s.messages()[0]
