#!/bin/sh
# Builds recorder.bpf.o from recorder.bpf.c: the committed object dredge embeds. Needs clang
# (Debian's clang 14) and libbpf's BPF headers (libbpf-dev). The flags are fixed and the checkout's path is
# mapped away (BTF line info names the source), so the same clang gives the same bytes wherever
# the repository is; tests/record.rs checks that.
set -eu
cd "$(dirname "$0")"
out="${1:-recorder.bpf.o}"
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
    -Wall -Werror -fno-ident -fdebug-prefix-map="$PWD"=capture/bpf \
    -c recorder.bpf.c -o "$out.tmp"
# DWARF is not needed to load (BTF carries the types and CO-RE relocations): drop it.
llvm-strip -g "$out.tmp"
mv "$out.tmp" "$out"
