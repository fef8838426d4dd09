#!/usr/bin/env bash
# Exact-resume check on real PTB with the small config: 2 epochs in one run against 1 epoch and
# `--resume` for 1 more, same seed and thread count. Prints both runs' valid perplexities and the
# SHA-256 of the final weight tensors' bytes (state tensor excluded); they must be equal.
#
#   scripts/resume-check.sh [DATA_DIR] [THREADS]     (defaults: /work/shared/data/ptb, all cores)
#
# Takes two small-config epochs plus one (about 3 epochs of training). Work goes to a temp folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-/work/shared/data/ptb}"
threads="${2:-$(nproc)}"
seed=7
work="$(mktemp -d "${TMPDIR:-/tmp}/resume-check.XXXXXX")"
java_home="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"

(cd "$here" && JAVA_HOME="$java_home" ./mvnw -q -Dmaven.test.skip=true package)
lstm() { "$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
           -jar "$here/target/lstm-lm.jar" "$@" 2> >(grep -v '^WARNING' >&2); }
common=(--config small --data-path "$data" --seed "$seed" --threads "$threads")

echo "== A: 2 epochs in one run (log: $work/a.log)"
lstm train "${common[@]}" --max-epochs 2 --save-path "$work/a" > "$work/a.log"
echo "== B1: 1 epoch (log: $work/b1.log)"
lstm train "${common[@]}" --max-epochs 1 --save-path "$work/b" > "$work/b1.log"
echo "== B2: --resume for 1 more (log: $work/b2.log)"
lstm train --resume "$work/b" --data-path "$data" --threads "$threads" --max-epochs 2 > "$work/b2.log"

# SHA-256 of the weight tensors' bytes, in file order, read by the safetensors spec alone
weights_sha() {
  python3 - "$1" <<'PY'
import hashlib, json, struct, sys
with open(sys.argv[1], 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
h = hashlib.sha256()
for name, t in sorted(((k, v) for k, v in header.items() if k != '__metadata__' and not k.startswith('state.')),
                      key=lambda kv: kv[1]['data_offsets'][0]):
    b, e = t['data_offsets']
    h.update(data[b:e])
print(h.hexdigest())
PY
}

echo
echo "A  valid: $(grep 'Valid Perplexity' "$work/a.log" | tr '\n' ' ')"
echo "B  valid: $(cat "$work/b1.log" "$work/b2.log" | grep 'Valid Perplexity' | tr '\n' ' ')"
echo "A  test : $(grep 'Test Perplexity' "$work/a.log" | tail -1)"
echo "B  test : $(grep 'Test Perplexity' "$work/b2.log" | tail -1)"
sha_a="$(weights_sha "$work/a/model.safetensors")"
sha_b="$(weights_sha "$work/b/model.safetensors")"
echo "A  weights sha256: $sha_a"
echo "B  weights sha256: $sha_b"
if [ "$sha_a" = "$sha_b" ] && [ "$(grep 'Valid Perplexity' "$work/a.log")" = "$(cat "$work/b1.log" "$work/b2.log" | grep 'Valid Perplexity')" ]; then
  echo "RESULT: identical"
else
  echo "RESULT: DIFFERENT"; exit 1
fi
