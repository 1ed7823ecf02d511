#!/usr/bin/env bash
# The recorder's cost to the traced workload, in one run (root, eBPF). Two workloads, each
# timed alone and under `dredge record`, in interleaved rounds:
#
#   dd if=/dev/zero of=/dev/null bs=1 count=5000000   under record --syscalls all
#       (10 M syscalls: the heaviest event rate a single thread makes)
#   2,000 runs of /bin/true from one shell              under record (default syscall set)
#       (process creation: clone, execve, exit, the opens of the dynamic loader)
#
# For each: the median slowdown (recorded / alone), and for dd the events written, drops,
# events/s written (events / recorded dd time) and bytes per event on disk. The recorder's
# issue sets dd <= 2.5x with 0 drops, >= 1 M events/s and <= 5 B/event; /bin/true <= 1.3x.
# Timings on this VM are noisy: compare the ratios of one run, not absolute times.
# Usage: benches/record-overhead.sh [ROUNDS]     (env: WORK)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-5}"
work="${WORK:-/tmp/dredge-record-bench}"
mkdir -p "$work"
[ "$(id -u)" = 0 ] || { echo "needs root (the recorder loads BPF programs)" >&2; exit 2; }
cargo build --release -q
dredge="$PWD/target/release/dredge"

now() { date +%s.%N; }

dd_run() { dd if=/dev/zero of=/dev/null bs=1 count=5000000 2>/dev/null; }
true_run() { for _ in $(seq 2000); do /bin/true; done; }

# Starts the recorder in the background, waits until it is attached; sets rec_pid.
start_recorder() { # FILE ARGS...
  local file=$1; shift
  rm -f "$file" "$work/rec.err"
  "$dredge" record -w "$file" "$@" 2>"$work/rec.err" &
  rec_pid=$!
  until grep -q "^recording to" "$work/rec.err" 2>/dev/null; do
    kill -0 "$rec_pid" 2>/dev/null || { cat "$work/rec.err" >&2; exit 1; }
    sleep 0.05
  done
}

stop_recorder() {
  kill -INT "$rec_pid"
  wait "$rec_pid" || { cat "$work/rec.err" >&2; exit 1; }
}

# Time one workload function, seconds.
timed() { local t0; t0=$(now); "$1"; echo "$(now) - $t0" | bc -l; }

: > "$work/dd.tsv"
: > "$work/true.tsv"
for round in $(seq "$rounds"); do
  base=$(timed dd_run)
  start_recorder "$work/dd.dcap" --syscalls all
  rec=$(timed dd_run)
  stop_recorder
  # "FILE: N events in Ts, D dropped, B blocks, BYTES bytes"
  line=$(grep " events in " "$work/rec.err")
  events=$(echo "$line" | sed -E 's/.*: ([0-9]+) events in.*/\1/')
  drops=$(echo "$line" | sed -E 's/.* ([0-9]+) dropped.*/\1/')
  bytes=$(stat -c %s "$work/dd.dcap")
  echo -e "$base\t$rec\t$events\t$drops\t$bytes" >> "$work/dd.tsv"

  base=$(timed true_run)
  start_recorder "$work/true.dcap"
  rec=$(timed true_run)
  stop_recorder
  echo -e "$base\t$rec" >> "$work/true.tsv"
  echo "round $round: dd $(tail -1 "$work/dd.tsv" | cut -f1,2 | tr '\t' ' ') s," \
    "true x2000 $(tail -1 "$work/true.tsv" | tr '\t' ' ') s" >&2
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
dd_ratio=$(awk -F'\t' '{print $2/$1}' "$work/dd.tsv" | median)
dd_rate=$(awk -F'\t' '{printf "%.6f\n", $3/$2/1000000}' "$work/dd.tsv" | median)
dd_bpe=$(awk -F'\t' '{print $5/$3}' "$work/dd.tsv" | median)
dd_drops=$(awk -F'\t' '{s+=$4} END {print s}' "$work/dd.tsv")
dd_events=$(awk -F'\t' '{print $3}' "$work/dd.tsv" | median)
true_ratio=$(awk -F'\t' '{print $2/$1}' "$work/true.tsv" | median)
echo
echo "dd bs=1 x5M under record --syscalls all (median of $rounds rounds):"
printf "  slowdown %.2fx (target <= 2.5)\n" "$dd_ratio"
printf "  events written %.0f, drops %d over all rounds (target 0)\n" "$dd_events" "$dd_drops"
printf "  events/s written %.2f M (target >= 1)\n" "$dd_rate"
printf "  bytes per event on disk %.2f (target <= 5)\n" "$dd_bpe"
echo "2,000 x /bin/true under record (default syscall set):"
printf "  slowdown %.2fx (target <= 1.3)\n" "$true_ratio"
echo "rounds: $work/dd.tsv (alone, recorded, events, drops, bytes), $work/true.tsv"
