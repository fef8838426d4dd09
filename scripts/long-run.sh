#!/usr/bin/env bash
# A long training run in the background that outlives the checkout it came from. DIR (outside the
# work tree, e.g. under $HOME) keeps a copy of the jar, the run's train options and its
# checkpoints; every start after the first resumes exactly from DIR's newest checkpoint, with the
# same jar and the same options, so an interrupted run gives the bits of an uninterrupted one.
#
#   scripts/long-run.sh DIR TRAIN-OPTIONS...   a new run: ./lstm train's options, without --save-path
#                                              (give --checkpoint-every; relative paths are in DIR)
#   scripts/long-run.sh DIR                    start it again: resumes from its newest checkpoint
#   scripts/long-run.sh DIR --stop             SIGTERM: it checkpoints the window it is in and exits
#   scripts/long-run.sh DIR --extend N         train to N epochs in all (--set max_max_epoch=N), even
#                                              a finished run; DIR gets this checkout's jar
#   scripts/long-run.sh DIR --status           running or not, the last epoch's lines, the newest
#                                              checkpoint, the starts, the test line once finished,
#                                              else (with --metrics) epochs done and time to go
#
# e.g. scripts/long-run.sh ~/runs/medium --config medium --seed 1 --threads 2 \
#          --checkpoint-every 1000 --metrics metrics.jsonl --plot curve.png --no-progress
#
# The run has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as benchmarks do. It writes
# DIR/train.log (appended), DIR/starts.log (a line a start) and DIR/JAR_COMMIT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir="$(realpath -m "$1")"
shift
case "$dir/" in
  "$here"/*) echo "long-run: $dir is inside the work tree; keep runs outside it (under \$HOME)" >&2; exit 2 ;;
esac
mkdir -p "$dir"
jar="$dir/lstm-lm.jar"
running() { pgrep -f -- "-jar $jar train" || true; }
# the test line when the run has finished: one after the last start's Config line (a run extended
# since its test has started again); nothing otherwise
finished() { [ ! -f "$dir/train.log" ] || awk '/^Config /{t=""} /^Test Perplexity/{t=$0} END{if (t != "") print t}' "$dir/train.log"; }

if [ "${1:-}" = --stop ]; then
  pids="$(running)"
  [ -n "$pids" ] || { echo "long-run: nothing running in $dir" >&2; exit 1; }
  kill -TERM $pids
  echo "long-run: asked $pids to checkpoint and stop; see $dir/train.log"
  exit 0
fi
if [ "${1:-}" = --status ]; then
  [ -f "$dir/options" ] || { echo "long-run: $dir holds no run" >&2; exit 1; }
  pids="$(running)"
  echo "$dir: $([ -n "$pids" ] && echo "running (pid $pids)" || echo "not running"); jar $(cat "$dir/JAR_COMMIT")"
  echo "options: $(tr '\n' ' ' < "$dir/options")"
  [ ! -f "$dir/starts.log" ] || sed 's/^/start: /' "$dir/starts.log"
  # under pipefail a grep or ls that finds nothing fails its pipeline: early in a run that is normal
  newest="$(ls "$dir"/ckpt-*.safetensors 2>/dev/null | tail -1 || true)"
  echo "newest checkpoint: ${newest:-none}"
  if [ -f "$dir/train.log" ]; then
    grep -E '^Epoch: [0-9]+ (Train|Valid) Perplexity' "$dir/train.log" | tail -2 || true
    grep -E '^Epoch: [0-9]+ Learning rate' "$dir/train.log" | tail -1 || true
    grep -E '^[0-9.]+ perplexity: ' "$dir/train.log" | tail -1 || true
    done_line="$(finished)"
    [ -z "$done_line" ] || echo "$done_line (finished)"
    # how far, and how long to go: the metrics file's last epoch line (elapsed_s is the run's training
    # time, all its processes) and the config's max_max_epoch from the last Config line
    metrics="$(awk 'p { print; exit } $0 == "--metrics" { p = 1 } /^--metrics=/ { sub(/^--metrics=/, ""); print; exit }' "$dir/options")"
    [ -z "$metrics" ] || [ "${metrics:0:1}" = / ] || metrics="$dir/$metrics"
    last="$( [ -z "$metrics" ] || [ ! -f "$metrics" ] || grep '"event":"epoch"' "$metrics" | tail -1 || true)"
    epochs="$(grep -E '^Config ' "$dir/train.log" | tail -1 | sed -nE 's/.*[{ ]max_max_epoch=([0-9]+).*/\1/p' || true)"
    if [ -z "$done_line" ] && [ -n "$epochs" ] && [[ "$last" =~ \"epoch\":([0-9]+).*\"elapsed_s\":([0-9.eE+-]+) ]]; then
      awk -v e="${BASH_REMATCH[1]}" -v t="${BASH_REMATCH[2]}" -v n="$epochs" 'BEGIN {
        printf "epochs done: %d of %d, in %.1f h of training; at that pace about %.1f h to go\n", e, n, t / 3600, t / e * (n - e) / 3600 }'
    fi
  fi
  exit 0
fi
[ -z "$(running)" ] || { echo "long-run: $dir is already running (pid $(running))" >&2; exit 2; }

build_jar() {
  (cd "$here" && ./mvnw -q -B -DskipTests package 2>&1) | { grep -v '^WARNING' || true; } >&2
  cp "$here/target/lstm-lm.jar" "$jar"
  git -C "$here" describe --always --dirty > "$dir/JAR_COMMIT"
}

extend=
if [ "${1:-}" = --extend ]; then
  [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] && [ $# -eq 2 ] || { echo "long-run: --extend takes the number of epochs in all, e.g. --extend 40" >&2; exit 2; }
  [ -f "$dir/options" ] || { echo "long-run: $dir holds no run to extend" >&2; exit 2; }
  extend="$2"
  shift 2
  # an older jar refuses max_max_epoch on --resume: extending takes this checkout's, which must train
  # the same bits (see what changed in the engine since the run's jar)
  was="$(cat "$dir/JAR_COMMIT")"
  build_jar
  echo "long-run: $dir now runs jar $(cat "$dir/JAR_COMMIT") (was $was); engine changes between them:" >&2
  git -C "$here" diff --stat "${was%-dirty}" -- src/main/java/lstmlm/kernels src/main/java/lstmlm/model \
    src/main/java/lstmlm/train src/main/java/lstmlm/natives src/main/java/lstmlm/blas src/main/java/lstmlm/modelfile >&2 || true
  # the options keep the last extension: every later start resumes with it (the checkpoints carry it too)
  # drop an earlier extension's "--set" "max_max_epoch=M" pair
  awk '$0 == "--set" && !held { held = 1; next }
       held { held = 0; if ($0 ~ /^max_max_epoch=/) next; print "--set" }
       { print } END { if (held) print "--set" }' "$dir/options" > "$dir/options.new"
  printf '%s\n' --set "max_max_epoch=$extend" >> "$dir/options.new"
  mv "$dir/options.new" "$dir/options"
fi

if [ ! -f "$dir/options" ]; then
  [ $# -gt 0 ] || { echo "long-run: $dir holds no run; give the train options of a new one" >&2; exit 2; }
  for a in "$@"; do
    case "$a" in --save-path|--save-path=*|--resume|--resume=*)
      echo "long-run: leave $a out; the run saves to and resumes from $dir" >&2; exit 2 ;;
    esac
  done
  build_jar
  printf '%s\n' "$@" > "$dir/options"
elif [ $# -gt 0 ]; then
  echo "long-run: $dir already holds a run ($(tr '\n' ' ' < "$dir/options")); start it again with no options" >&2
  exit 2
fi
if [ -z "$extend" ] && [ -n "$(finished)" ]; then
  echo "long-run: $dir has finished: $(finished)"
  exit 0
fi

mapfile -t options < "$dir/options"
if ls "$dir"/ckpt-*.safetensors >/dev/null 2>&1; then
  options+=(--resume "$dir"); what=resumed
else
  options+=(--save-path "$dir"); what=started
fi
. "$here/scripts/jdk.sh"
jdk="$(lstm_jdk)"
cd "$dir"
[ -z "$extend" ] || what="extended to $extend epochs and $what"
echo "$(date -u +%FT%TZ) $what (jar $(cat JAR_COMMIT))" >> starts.log
setsid nohup env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$jdk/bin/java" --add-modules jdk.incubator.vector \
  --enable-native-access=ALL-UNNAMED -XX:-UseProfiledLoopPredicate -jar "$jar" train "${options[@]}" \
  >> train.log 2>&1 < /dev/null &
echo "long-run: $what in $dir (log: $dir/train.log)"
