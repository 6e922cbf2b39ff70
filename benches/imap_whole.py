#!/usr/bin/env python3
"""Whole-process IMAP comparison: Postel's `imap-server` example against a
private Dovecot (Debian's dovecot-imapd, 2.3), run by hand, not in CI.

Generates N realistic messages (1 to 10 KB, one in five multipart/mixed with
a base64 attachment, CRLF line endings, Maildir flags) into one Maildir,
starts both servers on loopback over it (Dovecot as `dovecot -F -c CONF`
with everything in a temporary folder, mail_location maildir, passdb
passwd-file, as tests/interop/test_pop3_dovecot.py does for POP3; our
example with `--load`), then for each run and each server times Python's
imaplib doing, on one logged-in connection with INBOX selected:

  1. envelope: `UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)`;
  2. bodies, per message: `UID FETCH n BODY.PEEK[]` for every UID, one
     command (and one round trip) each;
  3. bodies, batches: `UID FETCH a:b BODY.PEEK[]` over runs of --batch UIDs
     (default 100).

Login and SELECT are not timed. One untimed run first (Dovecot builds its
index and caches there: "warm index"), then --runs timed runs (default 3)
whose order of servers alternates; the table shows the median. Both servers
must return the same bodies (a SHA-256 per message, compared as sets) and
the same number of FETCH responses. The ENVELOPE of UID 1 from each server
is printed, with a warning when ours is all NIL (a stub).

    cargo build --release -p postel-imap --example imap-server
    python3 benches/imap_whole.py [--messages 10000] [--runs 3] [--batch 100]

The server binary is $CARGO_TARGET_DIR/release/examples/imap-server (or
target/..., or --server-bin). Needs /usr/sbin/dovecot and
/usr/lib/dovecot/imap (dovecot-imapd); run as root, Dovecot's mail processes
run as the package's `dovecot` user.
"""

import argparse
import hashlib
import imaplib
import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
from conftest import free_port, wait_for_port  # noqa: E402
from dovecot import PASSWORD, USER, Dovecot  # noqa: E402

WORDS = (
    "a about after again agenda all also and answer are as at attached backup be because before below "
    "best budget but by call can changes client could customer data date did do document draft each "
    "email end even every file final first for from get good had has have he her here his how I if in "
    "into invoice is it its just know last like list mail make many may meeting message more most my "
    "new next no not now of on one only or other our out over people please project quarter question "
    "regards release report review said same schedule see server she should so some than thanks that "
    "the their them then there these they this time to today tomorrow two up update us use version was "
    "we well were what when which who will with would year you your 2026 42 3.5 e.g."
).split()
FIRST = "Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Yvonne".split()
LAST = "Smith Jones Garcia Miller Davis Martinez Lopez Wilson Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis".split()
DOMAINS = "example.org example.com example.net mail.example.org corp.example.com lists.example.net".split()
ZONES = ["+0000", "+0100", "-0500", "-0800", "+0530"]
WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def person(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    addr = f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}"
    form = rng.randrange(3)
    if form == 0:
        return f'"{first} {last}" <{addr}>'
    if form == 1:
        return f"{first} {last} <{addr}>"
    return addr


def text_lines(rng, out, target):
    size = sum(len(x) for x in out)
    while size < target:
        width = rng.randint(40, 76)
        line = ""
        while len(line) < width:
            line = (line + " " if line else "") + rng.choice(WORDS)
        line = line[:76].rstrip() + "\r\n"
        if rng.randrange(8) == 0:
            line += "\r\n"
        out.append(line)
        size += len(line)


def message(rng, i):
    """One message as bytes (CRLF line endings) and its Maildir flags."""
    frm = person(rng)
    to = ", ".join(person(rng) for _ in range(rng.randint(1, 3)))
    cc = ", ".join(person(rng) for _ in range(rng.randint(1, 2))) if rng.randrange(3) == 0 else None
    reply = rng.randrange(4) == 0
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))]
    subject = ("Re: " if reply else "") + words[0][:1].upper() + words[0][1:] + "".join(" " + w for w in words[1:])
    secs = i * 250 + rng.randrange(200)
    day = secs // 86400
    date = (f"{WEEKDAYS[day % 7]}, {day + 1:02d} Nov 2026 {secs // 3600 % 24:02d}:{secs // 60 % 60:02d}:"
            f"{secs % 60:02d} {rng.choice(ZONES)}")
    domain = frm.rsplit("@", 1)[1].rstrip(">")
    head = [
        f"Return-Path: <bounce-{i}@{domain}>\r\n",
        f"Received: from mx{i % 7}.{domain} (mx{i % 7}.{domain} [192.0.2.{i % 250 + 1}])\r\n"
        f"\tby imap.example.net with ESMTPS id {rng.getrandbits(30):x}; {date}\r\n",
        f"Date: {date}\r\n",
        f"From: {frm}\r\n",
        f"To: {to}\r\n",
    ]
    if cc:
        head.append(f"Cc: {cc}\r\n")
    head.append(f"Subject: {subject}\r\n")
    head.append(f"Message-ID: <2026{i:08d}.{rng.getrandbits(30):x}@{domain}>\r\n")
    if reply:
        ref = f"<2026{i // 2:08d}.{rng.getrandbits(30):x}@example.org>"
        head.append(f"In-Reply-To: {ref}\r\nReferences: {ref}\r\n")
    head.append("MIME-Version: 1.0\r\n")
    size = rng.randint(1000, 10000)
    out = head
    if rng.randrange(5) == 0:
        boundary = f"=_b{i:06d}_{rng.getrandbits(20):x}"
        out.append(f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
                   "This is a multi-part message in MIME format.\r\n\r\n"
                   f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 7bit\r\n\r\n")
        now = sum(len(x) for x in out)
        text_lines(rng, out, now + max(0, size - now) // 3)
        out.append(f"\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\n"
                   f"Content-Disposition: attachment; filename=\"report-{i}.pdf\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n")
        now = sum(len(x) for x in out)
        lines = []
        while now < size:
            lines.append("".join(rng.choice(B64) for _ in range(76)) + "\r\n")
            now += 78
        out.extend(lines)
        out.append(f"\r\n--{boundary}--\r\n")
    else:
        out.append("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
        text_lines(rng, out, size)
    flags = ""
    if rng.randrange(6) == 0:
        flags += "R"
    if rng.randrange(12) == 0:
        flags += "F"
    if rng.randrange(10) != 0:
        flags += "S"
    return "".join(out).encode(), flags


def generate(n: int):
    """The messages as Maildir entries: (sub, file name) -> content."""
    rng = random.Random(20261128)
    messages = {}
    for i in range(n):
        data, flags = message(rng, i)
        messages[("cur", f"{1700000000 + i}.M{i}P1.bench:2,{flags}")] = data
    return messages


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def connect(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    return m, int(data[0])


FETCH_LINE = re.compile(rb"^\d+ \(")


def count_fetches(data):
    """FETCH responses in an imaplib answer (a tuple per response with a
    literal, else one bytes line)."""
    n = 0
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if head and FETCH_LINE.match(head):
            n += 1
    return n


def uid_list(m):
    typ, data = m.uid("SEARCH", "ALL")
    assert typ == "OK"
    return [int(u) for u in data[0].split()]


def bodies_of(data, digests):
    for item in data:
        if isinstance(item, tuple):
            digests.append(hashlib.sha256(item[1]).hexdigest())


def one_run(port, n, batch):
    """Times of the three phases, the FETCH count, and the body digests."""
    m, exists = connect(port)
    assert exists == n, f"port {port}: {exists} messages, not {n}"
    uids = uid_list(m)
    t0 = time.perf_counter()
    typ, data = m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE ENVELOPE)")
    t_env = time.perf_counter() - t0
    assert typ == "OK", data[-1:]
    fetches = count_fetches(data)
    single = []
    t0 = time.perf_counter()
    for u in uids:
        typ, data = m.uid("FETCH", str(u), "BODY.PEEK[]")
        assert typ == "OK"
        bodies_of(data, single)
    t_single = time.perf_counter() - t0
    batched = []
    t0 = time.perf_counter()
    for k in range(0, len(uids), batch):
        part = uids[k:k + batch]
        typ, data = m.uid("FETCH", f"{part[0]}:{part[-1]}", "BODY.PEEK[]")
        assert typ == "OK"
        bodies_of(data, batched)
    t_batch = time.perf_counter() - t0
    m.logout()
    assert len(single) == n and sorted(single) == sorted(batched), "bodies differ between the two ways"
    return (t_env, t_single, t_batch), fetches, sorted(single)


def envelope_of_uid1(port):
    m, _ = connect(port)
    typ, data = m.uid("FETCH", "1", "(ENVELOPE)")
    m.logout()
    line = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
    return line.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100)
    target = os.environ.get("CARGO_TARGET_DIR") or str(pathlib.Path(__file__).resolve().parent.parent / "target")
    ap.add_argument("--server-bin", default=f"{target}/release/examples/imap-server")
    args = ap.parse_args()

    if not os.path.exists(args.server_bin):
        sys.exit(f"{args.server_bin} is missing: cargo build --release -p postel-imap --example imap-server")
    for p in ("/usr/sbin/dovecot", "/usr/lib/dovecot/imap", "/usr/lib/dovecot/imap-login"):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: apt-get install dovecot-imapd")

    root = pathlib.Path(tempfile.mkdtemp(prefix="postel-imap-bench-"))
    root.chmod(0o755)
    procs = []
    try:
        t0 = time.perf_counter()
        messages = generate(args.messages)
        total = sum(len(m) for m in messages.values())
        multipart = sum(b"multipart/mixed" in m for m in messages.values())
        print(f"{args.messages} messages, {total} bytes ({total / args.messages:.0f} on average), "
              f"{multipart} multipart; generated in {time.perf_counter() - t0:.1f} s")
        # The same private Dovecot as the interop tests (tests/interop/dovecot.py).
        dovecot = Dovecot(root, "imap", messages, tls=False)
        procs.append(dovecot.proc)
        maildir, port_d, port_p = dovecot.maildir, dovecot.port, free_port()
        t0 = time.perf_counter()
        postel = subprocess.Popen([args.server_bin, "--listen", f"127.0.0.1:{port_p}", "--user", USER,
                                   "--password", PASSWORD, "--load", str(maildir)],
                                  stdout=subprocess.DEVNULL, stderr=open(root / "postel.stderr", "wb"))
        procs.append(postel)
        wait_for_port(port_p, postel, timeout=120.0)
        print(f"both servers listening ({time.perf_counter() - t0:.1f} s, our example loads the folder)")
        servers = {"dovecot": port_d, "postel": port_p}

        env = {name: envelope_of_uid1(port) for name, port in servers.items()}
        for name, line in env.items():
            print(f"UID FETCH 1 (ENVELOPE) from {name}: {line[:300]}")
        if re.search(r"ENVELOPE \(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL\)", env["postel"]):
            print("WARNING: our server returns an all-NIL ENVELOPE (stub): the envelope figures are not comparable")

        # Warm-up: Dovecot builds its index and caches here. Not timed.
        warm = {name: one_run(port, args.messages, args.batch) for name, port in servers.items()}
        if warm["dovecot"][2] != warm["postel"][2]:
            sys.exit("the two servers returned different bodies")
        for name, (_, fetches, _) in warm.items():
            if fetches != args.messages:
                sys.exit(f"{name}: {fetches} FETCH responses to UID FETCH 1:*, not {args.messages}")

        times = {name: [] for name in servers}
        for r in range(args.runs):
            order = list(servers.items())
            if r % 2:
                order.reverse()
            for name, port in order:
                t, fetches, digests = one_run(port, args.messages, args.batch)
                assert fetches == args.messages and digests == warm["dovecot"][2]
                times[name].append(t)
                print(f"run {r + 1} {name:8s} envelope {t[0]:.3f} s, bodies one by one {t[1]:.3f} s, "
                      f"bodies in batches of {args.batch} {t[2]:.3f} s")

        phases = ["UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)",
                  f"{args.messages} x UID FETCH n BODY.PEEK[]",
                  f"UID FETCH a:b BODY.PEEK[], batches of {args.batch}"]
        print()
        print(f"| phase (median of {args.runs}, index warm) | Dovecot | Postel imap-server | Dovecot / Postel |")
        print("|---|---|---|---|")
        for k, phase in enumerate(phases):
            d = statistics.median(t[k] for t in times["dovecot"])
            p = statistics.median(t[k] for t in times["postel"])
            print(f"| {phase} | {d:.3f} s | {p:.3f} s | {d / p:.2f} |")
    finally:
        for p in procs:
            stop(p)
        for name in ("postel.stderr", "dovecot.log"):
            path = root / name
            text = path.read_text(errors="replace") if path.exists() else ""
            if re.search(r"(?i)error|panic|fatal", text):
                print(f"{name}: {text[-2000:]}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
