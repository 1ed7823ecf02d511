#!/usr/bin/env bash
# Re-records the bundled real samples: each scenario runs in a podman container (a busybox
# image built here from the host's busybox-static, no registry; commands by full path, so
# that busybox's shell execs each applet by name rather than through /proc/self/exe) while
# `dredge record --containers-only` captures it. Needs root, eBPF, podman, runc and
# busybox-static (see ../shared/reference/containers-here.md for the flags this VM needs).
#
#   samples/record.sh            all scenarios
#   samples/record.sh NAME...    only those
#
# What each scenario does, and what the built-in rules find in it, is in samples/README.md;
# tests/samples.rs checks the findings. Re-recording changes the files (times, ids): run the
# tests afterwards, and update README and the test if a scenario changes.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "needs root (the recorder loads BPF programs)" >&2; exit 2; }
for tool in podman runc /bin/busybox; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install podman runc busybox-static)" >&2; exit 2; }
done
cargo build --release -q
dredge="$PWD/target/release/dredge"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The image: busybox and the applets the scenarios use, a passwd with root and a service
# user, a shadow file worth stealing, and a small web root.
image=localhost/dredge-sample-busybox:1
root="$work/rootfs"
mkdir -p "$root"/{bin,etc,tmp,www,usr/bin,root}
cp /bin/busybox "$root/bin/busybox"
for applet in sh cat ls id echo sleep find httpd wget nc mkdir seq grep; do
  ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nwww:x:33:\n' > "$root/etc/group"
printf 'root:$6$salt$hash:19000:0:99999:7:::\nwww:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
for page in index about contact; do echo "<p>$page</p>" > "$root/www/$page.html"; done
tar -C "$root" -cf "$work/image.tar" .
podman import -q "$work/image.tar" "$image" >/dev/null

# record NAME SCRIPT: runs SCRIPT with /bin/sh in a fresh container named NAME while
# recording into samples/NAME.dcap.
record() {
  local name=$1 script=$2 out="samples/$1.dcap"
  rm -f "$out" "$work/rec.err"
  "$dredge" record -w "$out" --containers-only 2>"$work/rec.err" &
  local pid=$!
  until grep -q "^recording to" "$work/rec.err" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/rec.err" >&2; exit 1; }
    sleep 0.05
  done
  podman --runtime runc run --rm --ulimit nofile=20000:20000 --ulimit nproc=1000:1000 \
    --name "$name" "$image" /bin/sh -c "$script"
  sleep 0.5
  kill -INT "$pid"
  wait "$pid"
  "$dredge" verify "$out" >/dev/null
  echo "$out: $(stat -c %s "$out") bytes, $(grep ' events in ' "$work/rec.err" | sed -E 's/.*: ([0-9]+) events.*/\1/') events"
}

# baseline-web: ordinary container work. busybox httpd serves a small site as user www,
# and a client in the same container fetches each page ten times.
baseline_web='/bin/httpd -p 8080 -h /www -u www; /bin/sleep 0.3
for i in $(/bin/seq 10); do
  for page in index about contact; do
    /bin/wget -q -O /dev/null http://127.0.0.1:8080/$page.html
  done
done
/bin/ls /www > /dev/null'

# shell-secrets-bindir: a non-shell process (find) spawns a shell, which reads the shadow
# file and drops a file below /usr/bin.
shell_secrets_bindir='/bin/find /etc -maxdepth 0 -exec /bin/sh -c \
  "/bin/cat /etc/shadow > /dev/null; echo x > /usr/bin/.cache" \;'

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(baseline-web shell-secrets-bindir)
for name in "${want[@]}"; do
  case "$name" in
    baseline-web) record "$name" "$baseline_web" ;;
    shell-secrets-bindir) record "$name" "$shell_secrets_bindir" ;;
    *) echo "no scenario $name" >&2; exit 2 ;;
  esac
done
