"""The `posteld auth` command-line contract: output shapes and exit codes."""

import json
import subprocess

from conftest import posteld


def run(*args):
    return subprocess.run([str(posteld()), "auth", *map(str, args)], capture_output=True, text=True)


def zone(tmp_path, text):
    path = tmp_path / "z.zone"
    path.write_text(text)
    return path


def test_spf_json_shape_and_fail_explanation(tmp_path):
    z = zone(tmp_path, '$ORIGIN example.com.\n@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n')
    out = run("spf", "--ip", "198.51.100.9", "--helo", "mx.example.org", "--mail-from", "a@example.com",
              "--zone", z, "--json")
    assert out.returncode == 0, out.stderr
    value = json.loads(out.stdout)
    assert value["result"] == "fail"
    assert value["domain"] == "example.com"
    assert "198.51.100.9" in value["explanation"]


def test_spf_result_is_not_an_exit_code(tmp_path):
    z = zone(tmp_path, '$ORIGIN example.com.\n@ 300 IN TXT "v=spf1 include:missing.example.com -all"\n')
    out = run("spf", "--ip", "192.0.2.1", "--helo", "h.example", "--mail-from", "a@example.com", "--zone", z)
    assert out.returncode == 0
    assert out.stdout.startswith("permerror")


def test_zone_syntax_error_names_file_and_line(tmp_path):
    z = zone(tmp_path, '$ORIGIN example.com.\n@ 300 IN TXT "v=spf1 -all"\nbroken 300 IN A not-an-address\n')
    out = run("spf", "--ip", "192.0.2.1", "--helo", "h.example", "--mail-from", "a@example.com", "--zone", z)
    assert out.returncode == 2
    assert f"{z}:3:" in out.stderr, out.stderr


def test_bad_arguments_and_missing_files_exit_2(tmp_path):
    assert run("spf", "--ip", "not-an-ip", "--helo", "h", "--mail-from", "a@b.c").returncode == 2
    out = run("verify", "--ip", "192.0.2.1", "--helo", "h.example", "--mail-from", "a@example.com",
              "--zone", tmp_path / "absent.zone", tmp_path / "absent.eml")
    assert out.returncode == 2 and "absent" in out.stderr
    out = run("sign", "--domain", "example.com", "--selector", "s", "--key", tmp_path / "nokey.pem",
              tmp_path / "absent.eml")
    assert out.returncode == 2 and "nokey.pem" in out.stderr
    assert run("keygen", "--algorithm", "dsa", "--domain", "d.example", "--selector", "s",
               "--out", tmp_path / "k.pem").returncode == 2


def test_verify_json_has_every_section(tmp_path):
    key = tmp_path / "k.pem"
    line = run("keygen", "--algorithm", "rsa", "--domain", "example.com", "--selector", "k", "--out", key).stdout
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n\r\nbody\r\n")
    signed = subprocess.run([str(posteld()), "auth", "sign", "--domain", "example.com", "--selector", "k",
                             "--key", str(key), "--algorithm", "rsa-sha256", str(msg)],
                            capture_output=True, check=True).stdout
    (tmp_path / "s.eml").write_bytes(signed)
    z = zone(tmp_path, line + '\nexample.com. 300 IN TXT "v=spf1 -all"\n_dmarc.example.com. 300 IN TXT "v=DMARC1; p=quarantine"\n')
    out = run("verify", "--ip", "192.0.2.1", "--helo", "h.example", "--mail-from", "a@example.com",
              "--zone", z, "--json", tmp_path / "s.eml")
    assert out.returncode == 0, out.stderr
    v = json.loads(out.stdout)
    assert v["spf"]["result"] == "fail"
    assert [(d["domain"], d["selector"], d["algorithm"], d["result"]) for d in v["dkim"]] == [
        ("example.com", "k", "rsa-sha256", "pass")]
    assert v["arc"]["result"] == "none"
    assert v["dmarc"]["result"] == "pass" and v["dmarc"]["policy"] == "quarantine"
    assert v["dmarc"]["disposition"] == "none" and v["dmarc"]["domain"] == "example.com"
    assert v["iprev"]["result"] in ("fail", "temperror", "permerror")
    assert v["authentication_results"].startswith("posteld.localhost;")
    # A mismatched --algorithm is a usage error.
    bad = run("sign", "--domain", "example.com", "--selector", "k", "--key", key,
              "--algorithm", "ed25519-sha256", msg)
    assert bad.returncode == 2
