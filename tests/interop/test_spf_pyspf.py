"""SPF results of `posteld auth spf` agree with pyspf's on generated cases.

A seeded generator writes one zone with many SPF domains (includes,
redirects, a/mx/ptr/exists/ip4/ip6 with CIDR lengths, macros, broken
records, void lookups, lookup-limit chains). posteld answers from the zone
file; pyspf answers from the same data through its DNSLookup hook.
"""

import json
import random
import subprocess

import pytest

from conftest import posteld

spf = pytest.importorskip("spf")

SEED = 7208
CASES = 300
BASE = "spf.test"


class World:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.records = {}  # (name, type) -> list of values

    def add(self, name, rtype, value):
        self.records.setdefault((name.lower().rstrip("."), rtype), []).append(value)

    def names(self):
        return sorted({n for n, _ in self.records})


def build_world(rng: random.Random) -> World:
    w = World(rng)
    hosts = [f"h{i}.{BASE}" for i in range(8)]
    for i, h in enumerate(hosts):
        w.add(h, "A", f"192.0.2.{10 + i}")
        if i % 2 == 0:
            w.add(h, "AAAA", f"2001:db8::{10 + i:x}")
    for i in range(0, 8, 2):
        w.add(f"{10 + i}.2.0.192.in-addr.arpa", "PTR", hosts[i])
    w.add("20.2.0.192.in-addr.arpa", "PTR", f"nowhere.{BASE}")  # not forward-confirmed
    domains = [f"d{i}.{BASE}" for i in range(60)]
    for d in domains:
        w.add(d, "MX", (10, rng.choice(hosts)))
        if rng.random() < 0.5:
            w.add(d, "A", f"192.0.2.{rng.randrange(10, 21)}")

    def term(depth_ok):
        q = rng.choice(["", "", "+", "-", "~", "?"])
        kind = rng.randrange(13)
        other = rng.choice(domains)
        host = rng.choice(hosts)
        if kind == 0:
            return f"{q}ip4:192.0.2.{rng.randrange(0, 32)}/{rng.choice([24, 28, 30, 32])}"
        if kind == 1:
            return f"{q}ip6:2001:db8::/{rng.choice([64, 120, 128])}"
        if kind == 2:
            return f"{q}a:{host}/{rng.choice([24, 30, 32])}"
        if kind == 3:
            return f"{q}a"
        if kind == 4:
            return f"{q}mx"
        if kind == 5:
            return f"{q}mx:{other}/{rng.choice([24, 32])}"
        if kind == 6:
            return f"{q}include:{other}" if depth_ok else f"{q}all"
        if kind == 7:
            return f"{q}exists:%{{ir}}.bl.{BASE}"
        if kind == 8:
            return f"{q}ptr:{BASE}"
        if kind == 9:
            return f"{q}a:missing{rng.randrange(5)}.{BASE}"  # void lookups
        if kind == 10:
            return f"{q}exists:%{{l}}.%{{d2}}"
        if kind == 11:
            return rng.choice(["bogus", "ip4:300.1.1.1", "a:/33", "exists"])  # permerror
        return f"{q}ip4:192.0.2.{rng.randrange(0, 32)}"

    for d in domains:
        n = rng.randrange(0, 6)
        terms = [term(True) for _ in range(n)]
        tail = rng.random()
        if tail < 0.4:
            terms.append(rng.choice(["-all", "~all", "?all", "+all"]))
        elif tail < 0.6:
            terms.append(f"redirect={rng.choice(domains)}")
        if rng.random() < 0.2:
            terms.append(f"exp=exp.{BASE}")
        if rng.random() < 0.03:
            w.add(d, "TXT", "v=spf1 -all")  # two records: permerror
        w.add(d, "TXT", " ".join(["v=spf1"] + terms))
    w.add(f"exp.{BASE}", "TXT", "%{i} may not send for %{d}")
    w.add(f"11.2.0.192.bl.{BASE}", "A", "127.0.0.2")
    w.add(f"alice.{BASE}", "A", "127.0.0.2")
    return w


def write_zone(w: World, path):
    lines = ["$TTL 300"]
    for (name, rtype), values in sorted(w.records.items()):
        for v in values:
            if rtype == "TXT":
                text = v.replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{name}. IN TXT "{text}"')
            elif rtype == "MX":
                lines.append(f"{name}. IN MX {v[0]} {v[1]}.")
            elif rtype == "PTR":
                lines.append(f"{name}. IN PTR {v}.")
            else:
                lines.append(f"{name}. IN {rtype} {v}")
    path.write_text("\n".join(lines) + "\n")


def pyspf_lookup(w: World):
    def lookup(name, qtype, tcpfallback=True, timeout=30):
        key = (name.lower().rstrip("."), qtype)
        out = []
        for v in w.records.get(key, []):
            if qtype in ("TXT", "SPF"):
                out.append(((name, qtype), [v.encode()]))
            elif qtype == "MX":
                out.append(((name, qtype), (v[0], v[1])))
            else:
                out.append(((name, qtype), v))
        return out

    return lookup


def test_spf_agrees_with_pyspf(tmp_path, monkeypatch):
    rng = random.Random(SEED)
    world = build_world(rng)
    zone = tmp_path / "spf.zone"
    write_zone(world, zone)
    monkeypatch.setattr(spf, "DNSLookup", pyspf_lookup(world))
    ips = [f"192.0.2.{i}" for i in range(8, 24)] + ["2001:db8::a", "2001:db8::1", "198.51.100.1"]
    disagreements = []
    results = {}
    for n in range(CASES):
        ip = rng.choice(ips)
        local = rng.choice(["alice", "bob", "strong-bad"])
        domain = f"d{rng.randrange(60)}.{BASE}"
        mail_from = f"{local}@{domain}"
        helo = f"mail{n}.{BASE}"
        want, _expl = spf.check2(i=ip, s=mail_from, h=helo)
        out = subprocess.run(
            [str(posteld()), "auth", "spf", "--ip", ip, "--helo", helo, "--mail-from", mail_from,
             "--zone", str(zone), "--json"],
            capture_output=True, text=True, check=True,
        )
        got = json.loads(out.stdout)["result"]
        results[got] = results.get(got, 0) + 1
        if got != want:
            disagreements.append((ip, mail_from, want, got, json.loads(out.stdout).get("problem")))
    # The generator must exercise every interesting result.
    for r in ("pass", "fail", "softfail", "neutral", "permerror"):
        assert results.get(r, 0) > 0, results
    assert not disagreements, "\n".join(map(str, disagreements))
