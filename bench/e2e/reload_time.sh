#!/bin/sh
# How long a SIGHUP reload of a changed API-discovery policy takes, and what it re-attaches:
# (1) one probe added, (2) the OpenSSL pack's parameters changed (its probes replaced),
# (3) the change undone. Prints probed's reload lines. Run as root from the source tree
# after a build:  sudo bench/e2e/reload_time.sh [rounds]
set -eu
rounds=${1:-3}
probed=${PROBED:-build/runtime/probed}
work=$(mktemp -d)
trap 'pkill -TERM -f "$work/api-discovery.toml" 2>/dev/null || true; rm -rf "$work"' EXIT
cp policies/api-discovery.toml policies/api-discovery.lua "$work/"
policy="$work/api-discovery.toml"
cp "$policy" "$work/original.toml"

wait_for() {  # pattern, occurrences
  i=0
  while [ "$(grep -c "$1" "$work/probed.log" || true)" -lt "$2" ]; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "timed out waiting for '$1'" >&2; cat "$work/probed.log" >&2; exit 1; }
    sleep 0.05
  done
}

PROBEKIT_JSONL=/dev/null PROBEKIT_PROMETHEUS_LISTEN=127.0.0.1:0 "$probed" run --policy "$policy" \
  >"$work/probed.log" 2>&1 &
pid=$!
wait_for "ready:" 1
n=0
for r in $(seq "$rounds"); do
  printf '\n[probe.execs_%s]\nraw_tracepoint = "sched_process_exec"\nevent = false\n' "$r" >>"$policy"
  kill -HUP $pid; n=$((n + 1)); wait_for "SIGHUP: policy reloaded" $n
  sed -i "s/max = [0-9]*/max = $((2048 + r))/" "$policy"
  kill -HUP $pid; n=$((n + 1)); wait_for "SIGHUP: policy reloaded" $n
done
cp "$work/original.toml" "$policy"
kill -HUP $pid; n=$((n + 1)); wait_for "SIGHUP: policy reloaded" $n
kill -TERM $pid; wait $pid || true
grep -E "ready:|SIGHUP: policy reloaded|retired|detached in" "$work/probed.log" | cut -c14-
