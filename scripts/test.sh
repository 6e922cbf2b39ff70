#!/usr/bin/env bash
# Runs every test: the Rust unit, property and scenario tests, then the
# interop tests with programs we did not write (Python's smtplib, poplib,
# imaplib, swaks, curl, fetchmail, mbsync, aiosmtpd, Dovecot) against the example servers over loopback. Installs what the
# interop tests need when it is missing (as root, from Debian and PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/seed ]; then
    echo "error: ../shared/seed is missing; the tests read the seed transcripts from ../shared beside the checkout" >&2
    exit 1
fi
if [ ! -f ../shared/conformance/spf/rfc7208-tests.yml ]; then
    echo "error: ../shared/conformance/spf/rfc7208-tests.yml is missing; the SPF conformance tests read the openspf suite from ../shared beside the checkout" >&2
    exit 1
fi

need_apt=()
command -v swaks >/dev/null 2>&1 || need_apt+=(swaks)
# swaks --tls needs Net::SSLeay, which --no-install-recommends leaves out.
perl -MNet::SSLeay -e1 >/dev/null 2>&1 || need_apt+=(libnet-ssleay-perl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v fetchmail >/dev/null 2>&1 || need_apt+=(fetchmail)
command -v mbsync >/dev/null 2>&1 || need_apt+=(isync)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v opendkim >/dev/null 2>&1 || need_apt+=(opendkim opendkim-tools)
# Postfix's smtp-sink, for postel-queue's tests/postfix_sink.rs.
need_postfix=no
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || need_postfix=yes
if [ ${#need_apt[@]} -gt 0 ] || [ $need_postfix = yes ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        if [ ${#need_apt[@]} -gt 0 ]; then
            apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
        fi
        if [ $need_postfix = yes ]; then
            # Installed for smtp-sink only: no questions, and left
            # unconfigured (no mail system set up, nothing started). A
            # complaint from its setup scripts (no init system, say) does
            # not matter as long as the programs are there, which the
            # tests check (POSTEL_REQUIRE_POSTFIX below).
            echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
            apt-get install -y -qq --no-install-recommends postfix >/dev/null ||
                echo "warning: installing postfix reported an error" >&2
        fi
    else
        missing="${need_apt[*]}"
        [ $need_postfix = yes ] && missing="$missing postfix"
        echo "warning: $missing missing and not root: those interop tests will be skipped" >&2
    fi
fi
python3 -m pip install -q --disable-pip-version-check -r tests/interop/requirements.txt

cargo test --workspace
# postel-queue's delivery agents and relay (SIGKILL tests) are behind a feature.
# As root (where postfix was installed above) a missing smtp-sink fails the
# tests/postfix_sink.rs tests instead of skipping them.
if [ "$(id -u)" = 0 ]; then
    POSTEL_REQUIRE_POSTFIX=1 cargo test -p postel-queue --features delivery
else
    cargo test -p postel-queue --features delivery
fi
# postel-queue's PostgreSQL backend against a throwaway server on loopback.
bash scripts/pg-test.sh
cargo build --release --workspace --bins --examples
python3 -m pytest -q tests/interop
