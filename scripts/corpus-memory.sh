#!/usr/bin/env bash
# Peak memory of reading a large corpus, as `train --data-path` reads it (the README's Data section).
#
#   scripts/corpus-memory.sh [MB [HEAP...]]   e.g. scripts/corpus-memory.sh 500 default 600m
#
# Writes a synthetic corpus with MB megabytes of training text (default 500; Zipf over 250,000
# words, PyTorch's layout) to a temporary folder, then reads it in a fresh JVM once per HEAP (an
# -Xmx value, or "default" for the JVM's own choice; default: "default") and prints the text size,
# words, vocabulary, time, the ids' own size and the process's peak RSS. Build the jar first:
# ./mvnw -q -B package -DskipTests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mb="${1:-500}"
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- default
. "$here/scripts/jdk.sh"
jdk="$(lstm_jdk)"
jar="$here/target/lstm-lm.jar"
[ -f "$jar" ] || { echo "corpus-memory: $jar is missing; build it with ./mvnw -q -B package -DskipTests" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$jdk/bin/javac" -cp "$jar" -d "$tmp/classes" "$here/scripts/CorpusMemory.java"
"$jdk/bin/java" -cp "$jar:$tmp/classes" CorpusMemory generate "$tmp/corpus" "$mb"
for heap in "$@"; do
  echo "heap: $heap"
  if [ "$heap" = default ]; then opts=(); else opts=("-Xmx$heap"); fi
  "$jdk/bin/java" "${opts[@]}" -cp "$jar:$tmp/classes" CorpusMemory read "$tmp/corpus"
done
