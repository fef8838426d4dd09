#!/usr/bin/env bash
# Fuzzes the parsers of outside input for as long as asked (the test run gives each 5 s):
#   scripts/fuzz.sh SECONDS [TARGET...]      TARGET: modelFile sealedModelFile headerNumbers configFile corpusFiles tarEntries ptbArchive requestBodies stateDictPickles
# Each target runs SECONDS in a child JVM (Jazzer + libFuzzer), starting from its seeds in
# src/test/resources/.../*Inputs/TARGET and the corpus earlier runs grew in target/fuzz/corpus.
# Figures: target/fuzz/stats.tsv; a finding's input: target/fuzz/crashes (copy it into the Inputs
# folder to keep it as a regression case).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=$(IFS=,; echo "$*")
exec ./mvnw -B test -Dinvoker.skip -Dtest=FuzzBudgetTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dlstm.fuzz.seconds="$seconds" -Dlstm.fuzz.targets="$targets" -Dsurefire.timeout=0
