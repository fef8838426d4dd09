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
#
# e.g. scripts/long-run.sh ~/runs/medium --config medium --seed 1 --threads 2 \
#          --checkpoint-every 1000 --metrics metrics.jsonl --plot curve.png --no-progress
#
# The run has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as benchmarks do. It writes
# DIR/train.log (appended), DIR/starts.log (a line a start) and DIR/JAR_COMMIT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir="$(realpath -m "$1")"
shift
case "$dir/" in
  "$here"/*) echo "long-run: $dir is inside the work tree; keep runs outside it (under \$HOME)" >&2; exit 2 ;;
esac
mkdir -p "$dir"
jar="$dir/lstm-lm.jar"
running() { pgrep -f -- "-jar $jar train" || true; }

if [ "${1:-}" = --stop ]; then
  pids="$(running)"
  [ -n "$pids" ] || { echo "long-run: nothing running in $dir" >&2; exit 1; }
  kill -TERM $pids
  echo "long-run: asked $pids to checkpoint and stop; see $dir/train.log"
  exit 0
fi
[ -z "$(running)" ] || { echo "long-run: $dir is already running (pid $(running))" >&2; exit 2; }

if [ ! -f "$dir/options" ]; then
  [ $# -gt 0 ] || { echo "long-run: $dir holds no run; give the train options of a new one" >&2; exit 2; }
  for a in "$@"; do
    case "$a" in --save-path|--save-path=*|--resume|--resume=*)
      echo "long-run: leave $a out; the run saves to and resumes from $dir" >&2; exit 2 ;;
    esac
  done
  (cd "$here" && ./mvnw -q -B -DskipTests package 2>&1) | { grep -v '^WARNING' || true; } >&2
  cp "$here/target/lstm-lm.jar" "$jar"
  git -C "$here" describe --always --dirty > "$dir/JAR_COMMIT"
  printf '%s\n' "$@" > "$dir/options"
elif [ $# -gt 0 ]; then
  echo "long-run: $dir already holds a run ($(tr '\n' ' ' < "$dir/options")); start it again with no options" >&2
  exit 2
fi
if [ -f "$dir/train.log" ] && grep -q '^Test Perplexity' "$dir/train.log"; then
  echo "long-run: $dir has finished: $(grep '^Test Perplexity' "$dir/train.log" | tail -1)"
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
echo "$(date -u +%FT%TZ) $what (jar $(cat JAR_COMMIT))" >> starts.log
setsid nohup env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$jdk/bin/java" --add-modules jdk.incubator.vector \
  --enable-native-access=ALL-UNNAMED -XX:-UseProfiledLoopPredicate -jar "$jar" train "${options[@]}" \
  >> train.log 2>&1 < /dev/null &
echo "long-run: $what in $dir (log: $dir/train.log)"
