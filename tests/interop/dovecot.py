"""A private Dovecot instance for interop tests: `dovecot -F -c CONFIG` with
every socket, state file and log in a temporary folder, the chosen protocols
on a free loopback port, one user with a Maildir the test fills. The
system's own Dovecot, if any, is never used.

Debian's dovecot-pop3d / dovecot-imapd are installed with apt-get when
missing and we are root; otherwise the tests that need them are skipped.
"""

import grp
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import free_port, wait_for_port

USER = "alice"
PASSWORD = "secret"

PACKAGES = {
    "pop3": ("dovecot-pop3d", ("/usr/lib/dovecot/pop3", "/usr/lib/dovecot/pop3-login")),
    "imap": ("dovecot-imapd", ("/usr/lib/dovecot/imap", "/usr/lib/dovecot/imap-login")),
}


def ensure_installed(protocol: str):
    """Installs Dovecot for `protocol` if needed, or skips the test."""
    package, paths = PACKAGES[protocol]
    paths = ("/usr/sbin/dovecot", "/usr/bin/doveadm", *paths)
    if all(os.path.exists(p) for p in paths):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{package} is not installed (and we are not root to install it)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if not all(os.path.exists(p) for p in paths):
        pytest.skip(f"could not install {package}: {r.stderr[-500:]}")


class Dovecot:
    """One Dovecot instance serving `protocol`, everything under `root`.
    `messages` maps (sub, file name) to content for the user's Maildir."""

    def __init__(self, root: pathlib.Path, protocol: str, messages: dict, tls: bool):
        self.root = root
        self.port = free_port()
        self.conf = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        self.maildir = root / "home" / USER / "Maildir"
        if os.geteuid() == 0:
            # Dovecot refuses mail access as root: use the package's users.
            mail_user, login_user = "dovecot", "dovenull"
        else:
            # Everything runs as us (no chroot, no user switch).
            mail_user = login_user = pwd.getpwuid(os.geteuid()).pw_name
        self.mail_user = pwd.getpwnam(mail_user)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        for (sub, name), content in messages.items():
            (self.maildir / sub / name).write_bytes(content)
        for path in [root / "home", *(root / "home").rglob("*")]:
            os.chown(path, self.mail_user.pw_uid, self.mail_user.pw_gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        ssl = "ssl = no"
        if tls:
            self.cert = root / "cert.pem"
            key = root / "key.pem"
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(self.cert),
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}"
        self.conf.write_text(
            f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log}
listen = 127.0.0.1
protocols = {protocol}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {mail_user}
default_login_user = {login_user}
default_internal_group = {grp.getgrgid(self.mail_user.pw_gid).gr_name}
first_valid_uid = {min(self.mail_user.pw_uid, 100)}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={self.mail_user.pw_uid} gid={self.mail_user.pw_gid} home={root}/home/%u
}}
service {protocol}-login {{
  chroot =
  inet_listener {protocol} {{
    port = {self.port}
  }}
}}
service anvil {{
  chroot =
}}
"""
        )
        (root / "state").mkdir()
        self.proc = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", str(self.conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_port(self.port, self.proc)
        except RuntimeError as e:
            log = self.log.read_text() if self.log.exists() else ""
            self.stop()
            raise RuntimeError(f"{e}\n{log}") from None

    def stop(self):
        # SIGTERM to the master (what `doveadm stop` sends, without its
        # wait-and-poll), which stops its children.
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=5)

    def files(self):
        return sorted(p.name for sub in ("cur", "new") for p in (self.maildir / sub).iterdir())


def starter(protocol: str, messages: dict):
    """A fixture body: yields `start(tls=False)`, stops everything after."""
    ensure_installed(protocol)
    started = []
    roots = []

    def start(tls=False):
        # Not under pytest's tmp_path: Dovecot's users must be able to reach it.
        root = pathlib.Path(tempfile.mkdtemp(prefix="postel-dovecot-"))
        root.chmod(0o755)
        roots.append(root)
        d = Dovecot(root, protocol, messages, tls)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
