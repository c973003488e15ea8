#!/usr/bin/env bash
# Builds the PTX of the CUDA learner's kernels with nvcc and heads it with the SHA-256 of the source it
# was built from, the line learner/cuda/kernels.go looks for: a PTX whose header does not name the
# current learner.cu is ignored (the backend then compiles the source with NVRTC at run time).
#
# Run from the repository root, on a machine with nvcc:
#   bench/gpu/build-ptx.sh [output.ptx]
# The output defaults to $OUT/learner.ptx when OUT is set, else learner/cuda/kernels/learner.ptx (where
# go:embed picks it up). PTX_ARCH (default compute_80) and NVCC_FLAGS (extra nvcc flags) adjust the build.
set -euo pipefail

src=learner/cuda/kernels/learner.cu
if [ $# -gt 1 ]; then
	echo "usage: $0 [output.ptx]" >&2
	exit 2
fi
out=${1:-}
if [ -z "$out" ]; then
	if [ -n "${OUT:-}" ]; then out=$OUT/learner.ptx; else out=learner/cuda/kernels/learner.ptx; fi
fi
arch=${PTX_ARCH:-compute_80}

if [ ! -f "$src" ]; then
	echo "build-ptx: $src not found: run from the repository root" >&2
	exit 2
fi
if ! command -v nvcc >/dev/null 2>&1; then
	echo "build-ptx: nvcc not found" >&2
	exit 127
fi
if command -v sha256sum >/dev/null 2>&1; then
	sum=$(sha256sum "$src" | cut -d' ' -f1)
else
	sum=$(shasum -a 256 "$src" | cut -d' ' -f1)
fi
if [ ${#sum} -ne 64 ]; then
	echo "build-ptx: could not hash $src" >&2
	exit 1
fi

tmp=$(mktemp)
trap 'rm -f "$tmp" "$out.tmp"' EXIT
# shellcheck disable=SC2086 # NVCC_FLAGS is a list of flags
nvcc -ptx -arch="$arch" ${NVCC_FLAGS:-} -o "$tmp" "$src"
{
	printf '// source sha256 %s\n' "$sum"
	cat "$tmp"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-ptx: wrote $out ($(wc -c <"$out") bytes, -arch=$arch, $(nvcc --version | tail -n 1)) from $src, sha256 $sum"
