#!/usr/bin/env bash
# The GPU run: what a machine with an NVIDIA GPU and no Go toolchain runs from the repository root,
# given the binaries built beforehand on a machine with Go:
#   CGO_ENABLED=0 go test -c -o .gpu/cuda.test ./learner/cuda
#   CGO_ENABLED=0 go build -o .gpu/gpubench ./bench/gpu
#   bench/gpu/run-on-device.sh        # results in $OUT (default ./gpu-out)
#
# Steps, each reported in $OUT:
#   1. nvidia-smi                                   nvidia-smi.txt
#   2. the kernels' PTX, where nvcc exists          learner.ptx (bench/gpu/build-ptx.sh)
#   3. the learner/cuda tests, run from learner/cuda as `go test` does (the emulator is found relative
#      to it); the log's tail is printed            cuda-test.log
#   4. FM and MLP minibatches, CPU and GPU          family-bench.txt (BenchmarkFamilyLearnBatch,
#                                                   at most 90 s)
#   5. the benchmark, full grid, CPU and GPU        gpubench.md (the report), gpubench.json,
#                                                   gpubench.log (progress)
#
# Time: about 5 minutes, most of it the benchmark (30 configurations × 2 backends × 3 runs of ≥ 1 s;
# the single-threaded CPU backend needs seconds per step at K=64 with large batches). To stay within
# RUN_BUDGET seconds (default 480) for the whole script, the benchmark runs with -max-time 5s: a run
# times at most about 5 s of steps (at least one), and a configuration whose run took longer than that
# (warm-up and timed steps) gets 1 run instead of 3 — the report lists each such case. The benchmark
# is also stopped at the budget; the rows measured by then stay in gpubench.md and gpubench.json.
# GPUBENCH_ARGS adds flags to the benchmark (e.g. "-runs 5").
#
# Exit status: 0 when the tests and the benchmark passed (and the PTX was built, where nvcc exists),
# 1 when any of them failed, 2 when the binaries are missing.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
root=$PWD
OUT=${OUT:-$root/gpu-out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
export OUT
budget=${RUN_BUDGET:-480}

failures=()
fail() {
	failures+=("$1")
	echo "FAILED: $1"
}
section() { printf '\n===== %s (at %ds)\n' "$1" "$SECONDS"; }
limit() { # limit SECONDS CMD...: CMD with a time limit where timeout(1) exists
	if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift && "$@"; fi
}

for bin in .gpu/cuda.test .gpu/gpubench; do
	if [ ! -x "$bin" ]; then
		echo "missing $bin: build it first (see the top of $0)"
		exit 2
	fi
done

section "machine"
date -u +%Y-%m-%dT%H:%M:%SZ
uname -a
grep -m1 'model name' /proc/cpuinfo 2>/dev/null
echo "cores: $(nproc 2>/dev/null)"
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt" || echo "warning: nvidia-smi failed"
else
	echo "warning: nvidia-smi not found"
fi

section "PTX (nvcc)"
if command -v nvcc >/dev/null 2>&1; then
	bench/gpu/build-ptx.sh "$OUT/learner.ptx" || fail "build-ptx.sh (nvcc)"
else
	echo "nvcc not found: no PTX built (the binaries compile the kernels with NVRTC unless they embed a PTX)"
fi

# Without an embedded PTX the backend needs NVRTC. Point it at one outside the loader's path (a CUDA
# toolkit under /usr/local or /opt, a pip wheel) where the default names would not find it.
if [ -z "${STREAMLEARN_NVRTC:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so' && [ ! -e /usr/local/cuda/lib64/libnvrtc.so ]; then
	shopt -s nullglob
	found=(/usr/local/cuda*/lib64/libnvrtc.so* /usr/local/cuda*/targets/*/lib/libnvrtc.so* /opt/*/lib/libnvrtc.so*
		/usr/lib/*-linux-gnu/libnvrtc.so* {/usr,/usr/local,/opt/conda,"$HOME/.local"}/lib/python3*/{site,dist}-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so*)
	shopt -u nullglob
	nvrtc=$( ((${#found[@]})) && printf '%s\n' "${found[@]}" | sort -V | tail -n 1)
	if [ -n "$nvrtc" ]; then
		export STREAMLEARN_NVRTC=$nvrtc
		echo "STREAMLEARN_NVRTC=$nvrtc"
	else
		echo "no NVRTC library found: the GPU works only if the binaries embed an up-to-date PTX"
	fi
fi

section "learner/cuda tests"
(cd learner/cuda && limit 240 "$root/.gpu/cuda.test" -test.v -test.count=1 -test.timeout 230s) >"$OUT/cuda-test.log" 2>&1
rc=$?
tail -n 40 "$OUT/cuda-test.log"
echo
echo "tests: $(grep -c -- '--- PASS' "$OUT/cuda-test.log") passed, $(grep -c -- '--- FAIL' "$OUT/cuda-test.log") failed, $(grep -c -- '--- SKIP' "$OUT/cuda-test.log") skipped (full log: cuda-test.log)"
grep -E -- '--- (FAIL|SKIP)' "$OUT/cuda-test.log" | head -n 30
if grep -qE -- '--- SKIP: [^ ]+/gpu ' "$OUT/cuda-test.log"; then
	echo "warning: GPU subtests were skipped: the GPU was not tested"
fi
if [ "$rc" -ne 0 ]; then
	fail "learner/cuda tests (exit $rc$([ "$rc" -eq 124 ] && echo ', time limit'))"
fi

section "FM and MLP minibatches (BenchmarkFamilyLearnBatch)"
(cd learner/cuda && limit 90 "$root/.gpu/cuda.test" -test.run '^$' -test.bench FamilyLearnBatch -test.benchtime 1s) \
	>"$OUT/family-bench.txt" 2>&1
rc=$?
grep -E 'Benchmark|SKIP|FAIL' "$OUT/family-bench.txt"
if [ "$rc" -ne 0 ]; then
	fail "BenchmarkFamilyLearnBatch (exit $rc$([ "$rc" -eq 124 ] && echo ', time limit'))"
fi

section "gpubench"
left=$((budget - SECONDS - 5))
if [ "$left" -lt 60 ]; then left=60; fi
echo "time limit ${left}s; progress in gpubench.log"
# shellcheck disable=SC2086 # GPUBENCH_ARGS is a list of flags
limit "$left" .gpu/gpubench -require-gpu -max-time 5s -json "$OUT/gpubench.json" ${GPUBENCH_ARGS:-} \
	2>"$OUT/gpubench.log" | tee "$OUT/gpubench.md"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo
	echo "gpubench progress (last lines of gpubench.log):"
	tail -n 25 "$OUT/gpubench.log"
	if [ "$rc" -eq 124 ]; then
		fail "gpubench stopped at the time limit (${left}s): the rows measured so far are in gpubench.md and gpubench.json"
	else
		fail "gpubench (exit $rc)"
	fi
fi

section "summary"
ls -l "$OUT"
if [ ${#failures[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${failures[@]}"
	echo "run-on-device: FAILED (${#failures[@]} step(s)) after ${SECONDS}s"
	exit 1
fi
echo "run-on-device: OK after ${SECONDS}s"
exit 0
