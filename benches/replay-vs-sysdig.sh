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
# Each command runs RUNS times (default 5), in rounds; the table shows the median wall time,
# events/s and the largest peak RSS, then the ratios the replay issue sets as targets. Needs sysdig and GNU time.
# Usage: benches/replay-vs-sysdig.sh [COPIES]     (env: RUNS, WORK, DREDGE_SHARED)
set -euo pipefail
cd "$(dirname "$0")/.."

copies="${1:-280}"
runs="${RUNS:-5}"
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
fi
# Checked apart: views-vs-replay.sh may have made the .dcap, and it makes no .scap.
[ -f "${big%.dcap}.scap" ] || "$dredge" export "$big" -o "${big%.dcap}.scap" -q
events=$("$dredge" info --json "$big" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "capture: $big, $events events ($(du -h "$big" | cut -f1) dcap, $(du -h "${big%.dcap}.scap" | cut -f1) scap)"

# The commands, measured in rounds: each round runs every command once, so a slow spell of
# this shared VM touches all of them alike. Each figure is the median over the rounds; the
# 1 -> 2 thread figure is the median of the rounds' own ratios; the RSS is the largest seen.
names=("sysdig -r BIG FILTER" "dredge replay, stable rules, 1 thr" "dredge replay, stable rules, 2 thr"
       "sysdig -r BIG (default text)" "dredge print BIG (default text)")
# cmd_for NAME: sets the array `cmd` to that command.
cmd_for() {
  local scap="${big%.dcap}.scap"
  case "$1" in
    "sysdig -r BIG FILTER") cmd=(sysdig -r "$scap" "$filter") ;;
    "dredge replay, stable rules, 1 thr") cmd=("$dredge" replay "$big" -r "$rules" --threads 1) ;;
    "dredge replay, stable rules, 2 thr") cmd=("$dredge" replay "$big" -r "$rules" --threads 2) ;;
    "sysdig -r BIG (default text)") cmd=(sysdig -r "$scap") ;;
    "dredge print BIG (default text)") cmd=("$dredge" print "$big") ;;
  esac
}
declare -A all secs rss
scaling=()
for round in $(seq "$runs"); do
  declare -A this=()
  for name in "${names[@]}"; do
    cmd_for "$name"
    /usr/bin/time -f '%e %M' -o "$work/time" "${cmd[@]}" >/dev/null 2>"$work/stderr" || {
      echo "$name failed:" >&2; cat "$work/stderr" >&2; exit 1; }
    all[$name]+="$(cat "$work/time")"$'\n'
    this[$name]=$(cut -d' ' -f1 "$work/time")
  done
  scaling+=("$(echo "scale=4; ${this[dredge replay, stable rules, 1 thr]} / ${this[dredge replay, stable rules, 2 thr]}" | bc -l)")
  echo "round $round: 1 -> 2 threads ${scaling[-1]}x" >&2
done
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
for name in "${names[@]}"; do
  mid=$(printf '%s' "${all[$name]}" | median)
  secs[$name]=${mid% *}
  rss[$name]=$(printf '%s' "${all[$name]}" | cut -d' ' -f2 | sort -n | tail -1)
  printf '%-34s %8.2f s %12.0f ev/s %8d MiB\n' "$name" "${secs[$name]}" \
    "$(echo "$events / ${secs[$name]}" | bc -l)" "$(( ${rss[$name]} / 1024 ))"
done

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo
echo "replay 2 threads vs sysdig filter: $(ratio "${secs[sysdig -r BIG FILTER]}" "${secs[dredge replay, stable rules, 2 thr]}")x  (target >= 5)"
echo "replay 1 -> 2 threads:             $(printf '%s\n' "${scaling[@]}" | median | xargs printf '%.2f')x  (target >= 1.8; median of the rounds' ratios)"
echo "print vs sysdig default text:      $(ratio "${secs[sysdig -r BIG (default text)]}" "${secs[dredge print BIG (default text)]}")x  (target >= 10)"
echo "replay peak RSS (2 threads):       $(( ${rss[dredge replay, stable rules, 2 thr]} / 1024 )) MiB  (target <= 256)"
