#!/usr/bin/env bash
# Whole-process comparison: Postel's `pop3-server` example against Debian's
# Dovecot (2.3, POP3 only, configured as in tests/interop/test_pop3_dovecot.py)
# over the same Maildir of generated messages (2 to 4 KB each, LF line
# endings as an MDA stores them, some lines beginning with '.'). In the same
# run, for each round and each server, Python's poplib logs in, RETRs every
# message 1..N and QUITs without DELE; the script prints the seconds each
# took and the ratio (Dovecot's time / ours: above 1, we are faster). The
# order of the two servers alternates between rounds. Both must serve the
# same bytes (checked with a SHA-256 of all the content retrieved).
#
#   bash benches/scripts/pop3_vs_dovecot.sh [MESSAGES] [ROUNDS]
#
# Needs dovecot-pop3d (installed with apt-get when missing and root), python3
# and cargo. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
messages=${1:-10000}
rounds=${2:-3}

if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/pop3 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: dovecot-pop3d is not installed (and we are not root to install it)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends dovecot-pop3d >/dev/null
fi
cargo build --release -q -p postel-pop3 --example pop3-server
server_bin=${CARGO_TARGET_DIR:-target}/release/examples/pop3-server

work=$(mktemp -d /tmp/pop3-bench-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
    # Dovecot refuses mail access as root: use the package's users.
    mail_user=dovecot
    login_user=dovenull
else
    mail_user=$(id -un)
    login_user=$mail_user
fi
mail_uid=$(id -u "$mail_user")
mail_gid=$(id -g "$mail_user")
mail_group=$(id -gn "$mail_user")

maildir=$work/home/alice/Maildir
python3 - "$maildir" "$messages" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub))
rng = random.Random(1939)
words = ("the of and to in is for that on with as by be this are from or at an it we will have not can "
         "message server delivery queue please report attached meeting schedule invoice account project "
         "review tomorrow morning regards thanks update question budget quarter results customer release "
         "version changes document draft final agenda minutes office travel booking password backup team").split()
for i in range(1, n + 1):
    size = rng.randint(2048, 4096)
    head = (f"Return-Path: <sender{i % 97}@example.org>\n"
            f"Message-ID: <{i}.{rng.getrandbits(40):x}@example.org>\n"
            f"Date: Sat, 28 Nov 2026 18:{i // 60 % 60:02d}:{i % 60:02d} +0000\n"
            f"From: Sender {i % 97} <sender{i % 97}@example.org>\n"
            "To: Alice <alice@example.net>\n"
            f"Subject: message {i} of {n}\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
    body = []
    length = len(head)
    while length < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 12)))
        if rng.randrange(20) == 0:
            line = "." + line
        body.append(line)
        length += len(line) + 1
    name = f"{1700000000 + i}.M{i}P1.bench:2,S"
    with open(os.path.join(root, "cur", name), "w") as f:
        f.write(head + "\n".join(body) + "\n")
EOF
chown -R "$mail_uid:$mail_gid" "$work/home"
echo "alice:{PLAIN}secret" >"$work/passwd"
mkdir "$work/state"

read -r port_dovecot port_postel < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')

cat >"$work/dovecot.conf" <<EOF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
listen = 127.0.0.1
protocols = pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $mail_user
default_login_user = $login_user
default_internal_group = $mail_group
first_valid_uid = $mail_uid
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $work/passwd
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid home=$work/home/%u
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $port_dovecot
  }
}
service anvil {
  chroot =
}
EOF

/usr/sbin/dovecot -F -c "$work/dovecot.conf" &
pids+=($!)
"$server_bin" --listen "127.0.0.1:$port_postel" --user alice --password secret --load "$maildir" >/dev/null &
pids+=($!)

python3 - "$port_dovecot" "$port_postel" "$messages" "$rounds" <<'EOF'
import hashlib, poplib, socket, statistics, sys, time

port_dovecot, port_postel, n, rounds = (int(a) for a in sys.argv[1:])

def wait(port):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")

def retrieve_all(port):
    """Seconds to log in, RETR 1..n and QUIT; the digest of the content."""
    digest = hashlib.sha256()
    start = time.perf_counter()
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user("alice")
    p.pass_("secret")
    count, _ = p.stat()
    for i in range(1, count + 1):
        _, lines, _ = p.retr(i)
        for line in lines:
            digest.update(line)
            digest.update(b"\n")
    p.quit()
    seconds = time.perf_counter() - start
    if count != n:
        sys.exit(f"port {port}: {count} messages, not {n}")
    return seconds, digest.hexdigest()

wait(port_dovecot)
wait(port_postel)
print(f"poplib RETR 1..{n}, QUIT without DELE; {rounds} rounds")
ratios, times = [], {"dovecot": [], "postel": []}
for r in range(1, rounds + 1):
    order = [("dovecot", port_dovecot), ("postel", port_postel)]
    if r % 2 == 0:
        order.reverse()
    results = {name: retrieve_all(port) for name, port in order}
    if results["dovecot"][1] != results["postel"][1]:
        sys.exit("the two servers served different content")
    d, o = results["dovecot"][0], results["postel"][0]
    times["dovecot"].append(d)
    times["postel"].append(o)
    ratios.append(d / o)
    print(f"round {r} ({order[0][0]} first): dovecot {d:.3f} s, postel pop3-server {o:.3f} s, "
          f"ratio {d / o:.2f} (dovecot / postel)")
print(f"median: dovecot {statistics.median(times['dovecot']):.3f} s, "
      f"postel {statistics.median(times['postel']):.3f} s, ratio {statistics.median(ratios):.2f}")
EOF
