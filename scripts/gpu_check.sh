#!/usr/bin/env bash
# Every GPU check of seqkit in one run (< 8 minutes on one H100/H200), on the machine's own
# python3 (torch with CUDA, transformers, nanobind, scikit-build-core, cmake, ninja; no
# network needed):
#
#   1. build and install seqkit (pip install --no-build-isolation --no-deps -e .)
#   2. pytest -m gpu (tests/gpu: bf16 trainer steps, activation checkpointing, compile vs
#      eager, causal SDPA flash vs mask, FSDP2 bf16; tests/gang: NCCL, FSDP2, DDP)
#   3. benchmarks/train_throughput.py: ~1B llama, seq 2048, bf16: eager, compile,
#      compile + activation checkpointing, HF LlamaForCausalLM (tokens/s, MFU, memory)
#
# Writes gpu_check.log, train_throughput.json and gpu_check.json (every step's status and
# the benchmark figures) to $OUT (or a new temporary directory). Exit status 0 when every
# step passed.
#
#   scripts/gpu_check.sh             # on the GPU machine
#   scripts/gpu_check.sh --dry-run   # the same steps on the CPU: no install, tiny shapes,
#                                    # the gpu tests on the CPU minus compile, flash, NCCL
#
# PYTHON overrides the interpreter (default: python3).
set -uo pipefail

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $arg (use --dry-run or --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.." || exit 2
PY="${PYTHON:-python3}"
OUT="${OUT:-$(mktemp -d -t seqkit-gpu-check.XXXXXX)}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
STATUS="$OUT/.steps.tsv"
: > "$LOG"
: > "$STATUS"

say() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$LOG"; }

# step NAME TIMEOUT_S COMMAND...: runs the command with its output in the log, records
# name, exit status and seconds; a failing step does not stop the others.
step() {
  local name="$1" limit="$2"
  shift 2
  say "== $name: $*"
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >> "$LOG" 2>&1
  local rc=$?
  local took=$((SECONDS - start))
  printf '%s\t%s\t%s\n' "$name" "$rc" "$took" >> "$STATUS"
  if [ "$rc" -eq 0 ]; then say "   ok ($took s)"; else say "   FAILED: exit $rc ($took s)"; fi
}

say "seqkit GPU check (dry run: $DRY_RUN), output in $OUT"
"$PY" - >> "$LOG" 2>&1 <<'EOF'
import platform, sys
import torch
print("python", sys.version.split()[0], platform.machine())
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    print("device", i, torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
try:
    import transformers
    print("transformers", transformers.__version__)
except ImportError:
    print("transformers missing")
EOF
command -v nvidia-smi > /dev/null && nvidia-smi >> "$LOG" 2>&1

if [ "$DRY_RUN" -eq 1 ]; then
  export SEQKIT_GPU_TESTS_ON_CPU=1 CUDA_VISIBLE_DEVICES=""
  "$PY" -c "import seqkit" 2>> "$LOG" || step install 300 "$PY" -m pip install --no-build-isolation --no-deps -e .
  TEST_ARGS=(-m gpu tests/gpu -k "not test_compile_equals_eager" -q -p no:cacheprovider)
  BENCH_ARGS=(--quick --device cpu)
  GEN_ARGS=(--quick --device cpu)
else
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  step install 240 "$PY" -m pip install --no-build-isolation --no-deps -e .
  TEST_ARGS=(-m gpu tests -q -p no:cacheprovider)
  BENCH_ARGS=(--device cuda)
  GEN_ARGS=(--device cuda --dtype bfloat16)
fi

if "$PY" -c "import pytest" 2> /dev/null; then
  step gpu_tests 240 "$PY" -m pytest "${TEST_ARGS[@]}"
else
  # No pytest on the machine (and no network to get it): call the tests/gpu functions
  # directly, with a stand-in for the few pytest names they use.
  say "pytest is not installed: running tests/gpu without it"
  step gpu_tests 240 "$PY" - <<'EOF'
import importlib, os, sys, traceback, types
import torch

class Skipped(Exception):
    pass

class _Mark:
    def __getattr__(self, name):
        def mark(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda fn: fn
        return mark

stub = types.ModuleType("pytest")
stub.mark = _Mark()
stub.fixture = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
def _skip(reason=""):
    raise Skipped(reason)
stub.skip = _skip
sys.modules["pytest"] = stub
sys.path.insert(0, os.getcwd())
module = importlib.import_module("tests.gpu.test_training_gpu")
device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
failed = 0
for name in sorted(n for n in dir(module) if n.startswith("test_")):
    try:
        getattr(module, name)(device)
        print("PASSED", name)
    except Skipped as ex:
        print("SKIPPED", name, ex)
    except Exception:
        failed += 1
        print("FAILED", name)
        traceback.print_exc()
sys.exit(1 if failed else 0)
EOF
fi

step train_throughput 330 "$PY" benchmarks/train_throughput.py "${BENCH_ARGS[@]}" \
  --json "$OUT/train_throughput.json"
step generation 90 "$PY" benchmarks/generation.py "${GEN_ARGS[@]}"

"$PY" - "$OUT" "$DRY_RUN" <<'EOF'
import json, sys
from pathlib import Path
out, dry_run = Path(sys.argv[1]), sys.argv[2] == "1"
steps = []
for line in (out / ".steps.tsv").read_text().splitlines():
    name, rc, seconds = line.split("\t")
    steps.append({"name": name, "exit_status": int(rc), "seconds": int(seconds)})
bench = out / "train_throughput.json"
report = {
    "dry_run": dry_run,
    "passed": all(s["exit_status"] == 0 for s in steps),
    "steps": steps,
    "train_throughput": json.loads(bench.read_text()) if bench.exists() else None,
}
(out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
EOF
rm -f "$STATUS"
if grep -q 'FAILED: exit' "$LOG"; then
  say "some checks FAILED; see $LOG"
  exit 1
fi
say "all checks passed; figures in $OUT/gpu_check.json"
