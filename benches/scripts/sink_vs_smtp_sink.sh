#!/usr/bin/env bash
# Whole-process comparison: Postel's `sink` example (which stores every
# message as a file, Maildir style) against Postfix's `smtp-sink` (which
# stores nothing), both loaded by Postfix's `smtp-source` with the same
# settings in the same run. Prints messages per second for each and the
# ratio. Needs Debian's postfix package (smtp-source, smtp-sink).
#
#   bash benches/scripts/sink_vs_smtp_sink.sh [SESSIONS] [MESSAGES] [SIZE] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
sessions=${1:-20}
messages=${2:-20000}
size=${3:-4096}
rounds=${4:-3}

if ! command -v smtp-source >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postfix >/dev/null
fi
PATH=$PATH:/usr/sbin
cargo build --release -p postel-smtp --example sink >/dev/null

out=$(mktemp -d)
port_ours=$((20000 + RANDOM % 20000))
port_peer=$((port_ours + 1))
target/release/examples/sink --listen 127.0.0.1:$port_ours --out "$out/maildir" >/dev/null &
ours=$!
smtp-sink -u nobody 127.0.0.1:$port_peer 1000 &
peer=$!
trap 'kill $ours $peer 2>/dev/null; rm -rf "$out"' EXIT
sleep 1

rate() {
    local port=$1 start end
    start=$(date +%s.%N)
    smtp-source -s "$sessions" -m "$messages" -l "$size" 127.0.0.1:"$port"
    end=$(date +%s.%N)
    echo "$messages / ($end - $start)" | bc -l
}

echo "smtp-source -s $sessions -m $messages -l $size, $rounds rounds"
for r in $(seq "$rounds"); do
    p=$(rate $port_peer)
    o=$(rate $port_ours)
    stored=$(ls "$out/maildir/new" | wc -l)
    printf 'round %d: smtp-sink %.0f msg/s, postel sink %.0f msg/s (ratio %.2f), files stored so far %d\n' "$r" "$p" "$o" "$(echo "$o / $p" | bc -l)" "$stored"
done
