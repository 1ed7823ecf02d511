#!/usr/bin/env bash
# Replay and print against sysdig on one large real capture, in one run.
#
# The capture is a real one (sysflow's Apache mpm-event full capture, 35,860 events) repeated
# with `dredge generate --from` (timestamps moved past each copy, thread ids moved to a range
# of their own), 280 copies by default: 10,040,800 events. sysdig reads the same events
# exported to .scap.
#
#   dredge replay BIG.dcap -r falco_rules.yaml   (upstream stable rules; 1 and 2 threads)
#   sysdig -r BIG.scap 'FILTER'                   (a 7-clause rule-like filter)
#   dredge print BIG.dcap   vs   sysdig -r BIG.scap   (default text lines)
#
# Each command runs RUNS times (default 3); the table shows the median wall time, events/s
# and peak RSS, then the ratios the replay issue sets as targets. Needs sysdig and GNU time.
# Usage: benches/replay-vs-sysdig.sh [COPIES]     (env: RUNS, WORK, DREDGE_SHARED)
set -euo pipefail
cd "$(dirname "$0")/.."

copies="${1:-280}"
runs="${RUNS:-3}"
shared="${DREDGE_SHARED:-$(cd .. && pwd)/shared}"
work="${WORK:-/tmp/dredge-bench}"
source_scap="$shared/captures/sysflow/mpm-event_full_capture.scap"
rules="$shared/falco-rules-data/rules/falco_rules.yaml"
filter='evt.type in (open,openat,openat2) and evt.dir=< and fd.typechar=f'
filter+=' and fd.name startswith /etc and not proc.name in (sshd,sudo)'
filter+=' and proc.pname!=systemd and user.uid>=0'

for tool in sysdig /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -f "$source_scap" ] || { echo "no shared data at $shared" >&2; exit 2; }

cargo build --release -q
dredge="$PWD/target/release/dredge"
mkdir -p "$work"
big="$work/big-$copies.dcap"
if [ ! -f "$big" ]; then
  "$dredge" import "$source_scap" -o "$work/source.dcap" -q
  "$dredge" generate --from "$work/source.dcap" --copies "$copies" -w "$big"
  "$dredge" export "$big" -o "${big%.dcap}.scap" -q
fi
events=$("$dredge" info --json "$big" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "capture: $big, $events events ($(du -h "$big" | cut -f1) dcap, $(du -h "${big%.dcap}.scap" | cut -f1) scap)"

# measure NAME CMD...: median wall seconds and the peak RSS of that run, over $runs runs.
declare -A secs rss
measure() {
  local name=$1; shift
  local all=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
      echo "$name failed:" >&2; cat "$work/stderr" >&2; exit 1; }
    all+=("$(cat "$work/time")")
  done
  local mid
  mid=$(printf '%s\n' "${all[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  secs[$name]=${mid% *}
  rss[$name]=${mid#* }
  printf '%-34s %8.2f s %12.0f ev/s %8d MiB\n' "$name" "${secs[$name]}" \
    "$(echo "$events / ${secs[$name]}" | bc -l)" "$(( ${rss[$name]} / 1024 ))"
}

measure "sysdig -r BIG FILTER" sysdig -r "${big%.dcap}.scap" "$filter"
measure "dredge replay, stable rules, 1 thr" "$dredge" replay "$big" -r "$rules" --threads 1
measure "dredge replay, stable rules, 2 thr" "$dredge" replay "$big" -r "$rules" --threads 2
measure "sysdig -r BIG (default text)" sysdig -r "${big%.dcap}.scap"
measure "dredge print BIG (default text)" "$dredge" print "$big"

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo
echo "replay 2 threads vs sysdig filter: $(ratio "${secs[sysdig -r BIG FILTER]}" "${secs[dredge replay, stable rules, 2 thr]}")x  (target >= 5)"
echo "replay 1 -> 2 threads:             $(ratio "${secs[dredge replay, stable rules, 1 thr]}" "${secs[dredge replay, stable rules, 2 thr]}")x  (target >= 1.8)"
echo "print vs sysdig default text:      $(ratio "${secs[sysdig -r BIG (default text)]}" "${secs[dredge print BIG (default text)]}")x  (target >= 10)"
echo "replay peak RSS (2 threads):       $(( ${rss[dredge replay, stable rules, 2 thr]} / 1024 )) MiB  (target <= 256)"
