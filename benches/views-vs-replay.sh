#!/usr/bin/env bash
# The views against `dredge replay` with no rules, on one large real capture.
#
# The views' target: each answers in at most 2x the time replay needs for the same capture
# with no rules, on the default threads. Replay with no rules still decodes every block and
# keeps the state (threads, fds, containers) up to date; it only evaluates nothing. That is
# the work the views share, so the ratio is what a view costs on top of it.
#
# The capture is the one replay-vs-sysdig.sh makes, shared through WORK and named the same
# way: sysflow's Apache mpm-event full capture (35,860 events) repeated with
# `dredge generate --from`, 280 copies by default (10,040,800 events).
#
#   baseline: dredge replay BIG -r EMPTY.yaml   (EMPTY.yaml is `[]`: it loads, 0 rules)
#   views:    the list in `views` below; a view this dredge does not have yet is skipped,
#             with a `skipped:` line, so the list can name views still being written
#
# Each command runs RUNS times (default 3) in rounds, output to /dev/null. The table shows
# the median wall time, the median of the rounds' own view/replay ratios, the largest peak
# RSS, and PASS or FAIL against 2.0x. Needs GNU time, bc and python3.
# Exit codes: 0 every view passes, 1 some view fails, 2 missing tools or data, or a command
# that did not run.
# Usage: benches/views-vs-replay.sh [COPIES]     (env: RUNS, WORK, DREDGE_SHARED, DREDGE)
#   DREDGE: the dredge binary to measure; when unset, this tree is built with cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

copies="${1:-280}"
runs="${RUNS:-3}"
shared="${DREDGE_SHARED:-$(cd .. && pwd)/shared}"
work="${WORK:-/tmp/dredge-bench}"
source_scap="$shared/captures/sysflow/mpm-event_full_capture.scap"
target=2.0

# The views, as `dredge` arguments; BIG stands for the capture. Words are split on spaces.
# The place of BIG in the views not written yet follows the others (the capture first).
views=(
  "top procs BIG"
  "top files BIG"
  "top conns BIG"
  "top containers BIG"
  "top procs BIG --by time"
  "top files BIG --by events"
  "lsof BIG"
  "netstat BIG"
  "spy users BIG"
  "ps BIG"
  "tree BIG"
  "timeline BIG"
  "spy file BIG /etc/passwd"
)

for tool in /usr/bin/time bc python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -f "$source_scap" ] || { echo "no shared data at $shared" >&2; exit 2; }

if [ -z "${DREDGE:-}" ]; then
  cargo build --release -q
fi
dredge="${DREDGE:-$PWD/target/release/dredge}"
[ -x "$dredge" ] || { echo "no dredge binary at $dredge" >&2; exit 2; }

# Written under a temporary name first, so an interrupted run leaves no half capture for the
# next one (of this script or of replay-vs-sysdig.sh) to take as finished.
mkdir -p "$work"
big="$work/big-$copies.dcap"
if [ ! -f "$big" ]; then
  [ -f "$work/source.dcap" ] || "$dredge" import "$source_scap" -o "$work/source.dcap" -q
  "$dredge" generate --from "$work/source.dcap" --copies "$copies" -w "$big.part" -q
  mv "$big.part" "$big"
fi
events=$("$dredge" info --json "$big" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "capture: $big, $events events ($(du -h "$big" | cut -f1))"
echo "dredge:  $dredge"

empty="$work/no-rules.yaml"
echo '[]' >"$empty"
loaded=$("$dredge" rules check "$empty" 2>&1 | tail -1)
[ "$loaded" = "0 rules loaded" ] || { echo "$empty: $loaded, expected 0 rules" >&2; exit 2; }

# present WORD...: whether this dredge has the command the words name. Each word is looked up
# in the `Commands:` list of its parent's help, until BIG, an option, or a parent without
# subcommands (as `top`, whose `procs` is a value).
present() {
  local parent=() word list
  for word in "$@"; do
    [[ $word == BIG || $word == -* ]] && return 0
    list=$("$dredge" "${parent[@]}" --help | sed -n '/^Commands:/,/^$/p')
    [ -n "$list" ] || return 0
    grep -q "^  $word " <<<"$list" || return 1
    parent+=("$word")
  done
}

baseline="replay BIG -r EMPTY.yaml"
names=("$baseline")
for view in "${views[@]}"; do
  read -ra words <<<"$view"
  if present "${words[@]}"; then
    names+=("$view")
  else
    echo "skipped: dredge has no ${view% BIG*}"
  fi
done

# cmd_for NAME: sets the array `cmd` to that command.
cmd_for() {
  local word
  if [ "$1" = "$baseline" ]; then
    cmd=("$dredge" replay "$big" -r "$empty")
    return
  fi
  read -ra words <<<"$1"
  cmd=("$dredge")
  for word in "${words[@]}"; do
    if [ "$word" = BIG ]; then cmd+=("$big"); else cmd+=("$word"); fi
  done
}

# Rounds: each runs every command once, so a slow spell of this shared VM touches all of them
# alike. A view's ratio is the median of the rounds' own ratios to that round's replay.
declare -A all ratios
for round in $(seq "$runs"); do
  declare -A this=()
  for name in "${names[@]}"; do
    cmd_for "$name"
    /usr/bin/time -f '%e %M' -o "$work/time" "${cmd[@]}" >/dev/null 2>"$work/stderr" || {
      echo "dredge $name failed:" >&2; cat "$work/stderr" >&2; exit 2; }
    all[$name]+="$(cat "$work/time")"$'\n'
    this[$name]=$(cut -d' ' -f1 "$work/time")
  done
  # GNU time counts in hundredths: a replay under 0.01 s on a tiny capture counts as 0.01.
  base=$(echo "b = ${this[$baseline]}; if (b < 0.01) b = 0.01; b" | bc -l)
  for name in "${names[@]}"; do
    ratios[$name]+="$(echo "scale=4; ${this[$name]} / $base" | bc -l)"$'\n'
  done
  echo "round $round of $runs done" >&2
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
echo
printf '%-34s %10s %9s %9s  %s\n' command "wall" "x replay" "peak RSS" "<= ${target}x"
failed=0
for name in "${names[@]}"; do
  wall=$(printf '%s' "${all[$name]}" | cut -d' ' -f1 | median)
  rss=$(printf '%s' "${all[$name]}" | cut -d' ' -f2 | sort -n | tail -1)
  ratio=$(printf '%s' "${ratios[$name]}" | median)
  if [ "$name" = "$baseline" ]; then
    verdict=baseline
  elif [ "$(echo "$ratio <= $target" | bc -l)" = 1 ]; then
    verdict=PASS
  else
    verdict=FAIL
    failed=1
  fi
  printf '%-34s %8.2f s %8.2fx %5d MiB  %s\n' "dredge $name" "$wall" "$ratio" \
    "$(( rss / 1024 ))" "$verdict"
done
wall=$(printf '%s' "${all[$baseline]}" | cut -d' ' -f1 | median)
rate=$(echo "b = $wall; if (b < 0.01) b = 0.01; $events / b" | bc -l)
printf '\nreplay with no rules: %.0f ev/s\n' "$rate"
exit "$failed"
