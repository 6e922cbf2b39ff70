"""Fixtures that start Postel's example servers on free loopback ports."""

import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# POSTEL_EXAMPLES_DIR points elsewhere (a debug build, another target dir).
EXAMPLES = pathlib.Path(os.environ.get("POSTEL_EXAMPLES_DIR", ROOT / "target" / "release" / "examples"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen = None, timeout: float = 20.0) -> None:
    """Waits until something accepts on 127.0.0.1:port; fails early if
    `proc` (when given) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"server exited early with {proc.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def binary(name: str) -> pathlib.Path:
    path = EXAMPLES / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the examples first (cargo build --release --examples --workspace)")
    return path


class Server:
    def __init__(self, args, port, out):
        self.port = port
        self.out = out
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_port(port, self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def messages(self, sub="new"):
        folder = self.out / sub
        return sorted((p.read_bytes() for p in folder.iterdir()), key=len) if folder.exists() else []


@pytest.fixture
def sink(tmp_path):
    servers = []

    def start(*extra):
        port = free_port()
        out = tmp_path / f"sink{len(servers)}"
        s = Server([str(binary("sink")), "--listen", f"127.0.0.1:{port}", "--out", str(out), *extra], port, out)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def lmtp_sink(tmp_path):
    servers = []

    def start(*extra):
        port = free_port()
        out = tmp_path / f"lmtp{len(servers)}"
        s = Server([str(binary("lmtp-sink")), "--listen", f"127.0.0.1:{port}", "--out", str(out), *extra], port, out)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def account_servers(example: str):
    """A fixture body: yields `start(maildir, *extra, user=, password=)`,
    which runs one of the examples that serve one account over a folder of
    messages (pop3-server, imap-server) on a free port; stops them after."""
    servers = []

    def start(maildir, *extra, user="alice", password="secret"):
        port = free_port()
        args = [
            str(binary(example)),
            "--listen", f"127.0.0.1:{port}",
            "--user", user,
            "--password", password,
            "--load", str(maildir),
            *extra,
        ]
        s = Server(args, port, maildir)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def pop3_server():
    """Starts Postel's pop3-server example over a folder of messages."""
    yield from account_servers("pop3-server")


@pytest.fixture
def imap_server():
    """Starts Postel's imap-server example over a folder of messages."""
    yield from account_servers("imap-server")


def posteld() -> pathlib.Path:
    """The posteld binary (built by `cargo build --release --workspace --bins`)."""
    path = ROOT / "target" / "release" / "posteld"
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (cargo build --release --workspace --bins)")
    return path
