#!/usr/bin/env python3
"""Whole-process relay comparison: postel-queue's `relay` example against a
private Postfix (Debian's postfix, 3.7) configured as the same relay, both
loaded by Postfix's `smtp-source` and relaying into Postfix's `smtp-sink`.
Run by hand, not in CI.

For each message size, and each of --runs runs, four configurations run
one after the other, each with a fresh smtp-sink (and a fresh spool or
queue):

  1. sink:    smtp-source straight into smtp-sink (the ceiling);
  2. relay:   smtp-source -> our relay (spool in a temporary directory under
              --workdir, on the normal disk) -> smtp-sink;
  3. journal: the same with `relay --journal` (JournalStore: append-only
              segments, one fdatasync per batch);
  4. postfix: smtp-source -> a private Postfix instance (its own
              config_directory, queue_directory and data_directory in the
              same temporary directory; chroot off; relayhost the sink)
              -> smtp-sink.

The load is `smtp-source -s SESSIONS -m MESSAGES -l SIZE -f sender@example.org
-t rcpt@example.net` (one message per connection: smtp-source disconnects
after each unless -d). Two times are taken with time.monotonic() from the
start of smtp-source: "accept" when smtp-source exits (every message has had
its 250), and "end to end" when the sink has counted every message (its -c
counter, `mesg=N`) AND the relay's spool / Postfix's queue holds no message
file any more. Rates are messages per second over those times.

Durability is the same on both sides: our relay answers 250 only after
`SpoolStore::enqueue` has fsynced the message file and the spool directory
(the default SyncMode::PerFile); Postfix's cleanup fsyncs the queue file
before smtpd answers 250.

    CARGO_TARGET_DIR=/work/target-relay cargo build --release -p postel-queue \\
        --features delivery --example relay
    python3 benches/queue_whole.py [--messages 20000] [--sessions 20] \\
        [--size 4096 [1024 ...]] [--runs 2]

Run as root (Postfix's master needs it; smtp-sink drops to the `postfix`
user). Needs /usr/sbin/postfix, postconf, smtp-source and smtp-sink, and the
`postfix` user and `postdrop` group that Debian's package creates. The
system's own Postfix (/etc/postfix, /var/spool/postfix) is not touched.
"""

import argparse
import grp
import os
import pathlib
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_RELAY = pathlib.Path("/work/target-relay/release/examples/relay")
TOOLS = ("postfix", "postconf", "smtp-source", "smtp-sink")
SENDER = "sender@example.org"
RCPT = "rcpt@example.net"
MESG_RE = re.compile(rb"mesg=(\d+)")
POSTFIX_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")

# The interop tests' port helpers.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "interop"))
from conftest import free_port, wait_for_port  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def stop(proc, timeout=20.0):
    """SIGTERM one process we started, then SIGKILL it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def loadavg():
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Sink:
    """smtp-sink on 127.0.0.1:port, counting messages (-c) into a file."""

    def __init__(self, workdir, name):
        self.port = free_port()
        self.out_path = workdir / f"sink-{name}.out"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "postfix", "-m", "1000", f"127.0.0.1:{self.port}", "1000"],
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.proc)
        # The readiness probe is a session without a message: mesg stays 0.

    def count(self):
        with open(self.out_path, "rb") as f:
            data = f.read()
        found = MESG_RE.findall(data)
        return max((int(n) for n in found), default=0)

    def close(self):
        stop(self.proc)
        self.out.close()


class Relay:
    def __init__(self, binary, workdir, relayhost_port, name, journal=False, expected=0):
        self.spool = workdir / f"spool-{name}"
        self.journal = journal
        self.expected = expected
        self.port = free_port()
        self.err_path = workdir / f"relay-{name}.err"
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--spool",
                str(self.spool),
                "--relayhost",
                f"[127.0.0.1]:{relayhost_port}",
            ] + (["--journal"] if journal else []),
            stdout=subprocess.PIPE,
            stderr=self.err,
        )
        line = self.proc.stdout.readline().decode(errors="replace")
        if "listening on" not in line:
            raise RuntimeError(f"relay did not start: {line!r}; see {self.err_path}")

    def queued(self):
        if self.journal:
            # A journal's segments cannot be counted like message files: what
            # is left is what the relay has not logged as delivered (it logs
            # an outcome once it is durably recorded).
            return max(0, self.expected - self.outcomes()["delivered"])
        n = 0
        with os.scandir(self.spool) as it:
            for e in it:
                if e.name.endswith((".msg", ".state", ".tmp")):
                    n += 1
        return n

    def outcomes(self):
        counts = {"delivered": 0, "deferred": 0, "failed": 0, "other": 0}
        with open(self.err_path, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace")
                m = re.search(r"> (delivered|deferred|failed):", line)
                if m:
                    counts[m.group(1)] += 1
                elif not line.startswith(("relay: spool ", "relay: journal ")) and not line.startswith(
                    "relay: shutting down"
                ):
                    counts["other"] += 1
        return counts

    def close(self):
        stop(self.proc)
        self.err.close()


MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{port} inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance under workdir/postfix-NAME."""

    def __init__(self, workdir, relayhost_port, name):
        self.base = workdir / f"postfix-{name}"
        self.conf = self.base / "etc"
        self.queue = self.base / "queue"
        self.data = self.base / "data"
        self.maillog = self.base / "maillog"
        for d in (self.conf, self.queue, self.data):
            d.mkdir(parents=True)
        self.base.chmod(0o755)
        self.queue.chmod(0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.data.chmod(0o700)
        self.port = free_port()
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))
        (self.conf / "main.cf").write_text("")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix-bench",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(workdir),
            "myhostname": "postfix.bench.example",
            "mydomain": "bench.example",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_transport": "error:no local delivery",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": f"[127.0.0.1]:{relayhost_port}",
            "mynetworks": "127.0.0.0/8",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "biff": "no",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
        }
        subprocess.run(
            ["postconf", "-c", str(self.conf), "-e"] + [f"{k}={v}" for k, v in settings.items()],
            check=True,
        )
        r = subprocess.run(
            ["postfix", "-c", str(self.conf), "start"], capture_output=True, text=True
        )
        if r.returncode != 0:
            self.close()
            log_tail = self.maillog.read_text(errors="replace")[-2000:] if self.maillog.exists() else ""
            raise RuntimeError(f"postfix start failed: {r.stdout}{r.stderr}{log_tail}")
        wait_for_port(self.port)

    def queued(self):
        n = 0
        for q in POSTFIX_QUEUES:
            d = self.queue / q
            if d.is_dir():
                for _root, _dirs, files in os.walk(d):
                    n += len(files)
        return n

    def outcomes(self):
        counts = {"sent": 0, "deferred": 0, "bounced": 0, "warning/fatal": 0}
        if not self.maillog.exists():
            return counts
        with open(self.maillog, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace")
                m = re.search(r"status=(sent|deferred|bounced)", line)
                if m:
                    counts[m.group(1)] += 1
                elif re.search(r": (warning|fatal|panic|error):", line):
                    counts["warning/fatal"] += 1
        return counts

    def close(self):
        pidfile = self.queue / "pid" / "master.pid"
        pid = None
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True)
        if pid is not None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


def run_source(port, messages, sessions, size):
    cmd = [
        "smtp-source",
        "-s", str(sessions),
        "-m", str(messages),
        "-l", str(size),
        "-f", SENDER,
        "-t", RCPT,
        f"127.0.0.1:{port}",
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return t0, proc


def measure(kind, args, size, run, workdir, relay_bin):
    name = f"{kind}-{size}-{run}"
    load_before = loadavg()
    sink = Sink(workdir, name)
    server = None
    try:
        if kind == "sink":
            port = sink.port
        elif kind in ("relay", "journal"):
            server = Relay(relay_bin, workdir, sink.port, name,
                           journal=kind == "journal", expected=args.messages)
            port = server.port
        else:
            server = Postfix(workdir, sink.port, name)
            port = server.port
        t0, proc = run_source(port, args.messages, args.sessions, size)
        out, _ = proc.communicate()
        t_accept = time.monotonic() - t0
        if proc.returncode != 0:
            log(f"  smtp-source exited {proc.returncode}: {out.decode(errors='replace')[-500:]}")
        deadline = t0 + args.timeout
        t_done = None
        while time.monotonic() < deadline:
            got = sink.count()
            left = server.queued() if server is not None else 0
            if got >= args.messages and left == 0:
                t_done = time.monotonic() - t0
                break
            time.sleep(0.05)
        time.sleep(1.0)  # late duplicates would show up here
        got = sink.count()
        left = server.queued() if server is not None else 0
        outcomes = server.outcomes() if server is not None else {}
        return {
            "kind": kind,
            "size": size,
            "run": run,
            "source_rc": proc.returncode,
            "accept_s": t_accept,
            "done_s": t_done,
            "sink_count": got,
            "left": left,
            "outcomes": outcomes,
            "load_before": load_before,
            "load_after": loadavg(),
        }
    finally:
        if server is not None:
            server.close()
        sink.close()


def rate(n, secs):
    return n / secs if secs else float("nan")


def fmt(x):
    return "n/a" if x != x else f"{x:,.0f}/s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, nargs="+", default=[4096],
                    help="message payload sizes in bytes (smtp-source -l); several allowed")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds allowed per configuration run for end-to-end completion")
    ap.add_argument("--relay-bin", type=pathlib.Path, default=DEFAULT_RELAY)
    ap.add_argument("--workdir", type=pathlib.Path, default=pathlib.Path("/work"),
                    help="where the temporary spool/queue directory goes (a normal disk, not tmpfs)")
    ap.add_argument("--only", nargs="+", choices=["sink", "relay", "journal", "postfix"],
                    default=["sink", "relay", "journal", "postfix"])
    args = ap.parse_args()

    missing = [t for t in TOOLS if shutil.which(t, path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) is None]
    if missing:
        print(f"SKIP: {', '.join(missing)} not installed (Debian package postfix)")
        return 0
    os.environ["PATH"] = "/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")
    if os.geteuid() != 0:
        print("SKIP: run as root (Postfix's master and smtp-sink -u need it)")
        return 0
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        print("SKIP: no `postfix` user or `postdrop` group (Debian's postfix package creates them)")
        return 0
    if ("relay" in args.only or "journal" in args.only) and not args.relay_bin.exists():
        print(f"SKIP: {args.relay_bin} missing; build it with\n"
              "  CARGO_TARGET_DIR=/work/target-relay cargo build --release -p postel-queue "
              "--features delivery --example relay")
        return 0

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="queue-whole-", dir=args.workdir))
    workdir.chmod(0o755)
    log(f"workdir {workdir}; {os.cpu_count()} CPUs; load {loadavg()}")
    results = []
    try:
        for size in args.size:
            for run in range(1, args.runs + 1):
                for kind in args.only:
                    log(f"{kind} size={size} run={run} ...")
                    r = measure(kind, args, size, run, workdir, relay_bin=args.relay_bin)
                    results.append(r)
                    log(
                        f"  accept {r['accept_s']:.2f}s ({fmt(rate(args.messages, r['accept_s']))}), "
                        f"end to end {'-' if r['done_s'] is None else '%.2fs' % r['done_s']} "
                        f"({fmt(rate(args.messages, r['done_s']))}); sink got {r['sink_count']}, "
                        f"left in queue {r['left']}, source rc {r['source_rc']}, {r['outcomes']}, "
                        f"load {r['load_before']} -> {r['load_after']}"
                    )
    finally:
        if os.environ.get("QUEUE_WHOLE_KEEP"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    n = args.messages
    print()
    print(f"{n:,} messages, {args.sessions} sessions, smtp-source one message per connection")
    print()
    print("| size | run | config | accept | end to end | ours/Postfix (accept, e2e) "
          "| vs smtp-sink (accept, e2e) | sink got | left | load before |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    by = {(r["size"], r["run"], r["kind"]): r for r in results}
    for r in results:
        a = rate(n, r["accept_s"])
        e = rate(n, r["done_s"])
        sink = by.get((r["size"], r["run"], "sink"))
        pf = by.get((r["size"], r["run"], "postfix"))
        vs_pf = ""
        if r["kind"] in ("relay", "journal") and pf:
            vs_pf = (f"{a / rate(n, pf['accept_s']):.2f}x, "
                     f"{e / rate(n, pf['done_s']):.2f}x")
        vs_sink = ""
        if r["kind"] != "sink" and sink:
            s = rate(n, sink["accept_s"])
            vs_sink = f"{a / s:.0%}, {e / s:.0%}"
        print(f"| {r['size']} | {r['run']} | {r['kind']} | {fmt(a)} | {fmt(e)} | {vs_pf} "
              f"| {vs_sink} | {r['sink_count']} | {r['left']} | {r['load_before']} |")
    for size in args.size:
        for kind in ("relay", "journal", "postfix"):
            rs = [r for r in results if r["size"] == size and r["kind"] == kind]
            if rs:
                print(f"# size {size} {kind}: median accept "
                      f"{fmt(statistics.median(rate(n, r['accept_s']) for r in rs))}, "
                      f"median end to end {fmt(statistics.median(rate(n, r['done_s']) for r in rs))}")
    bad = [r for r in results
           if r["source_rc"] != 0 or r["done_s"] is None or r["sink_count"] != n or r["left"]]
    for r in bad:
        print(f"# PROBLEM: {r['kind']} size {r['size']} run {r['run']}: source rc {r['source_rc']}, "
              f"sink got {r['sink_count']} of {n}, {r['left']} left in queue, {r['outcomes']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
