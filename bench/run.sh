#!/usr/bin/env bash
# Installs the engine, builds bench/target/benchmarks.jar against it and runs JMH with the engine's JVM flags in every fork.
# OpenBLAS picks its own kernels (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset), as benchmarks should.
# Usage: bench/run.sh [JMH options], e.g. bench/run.sh KernelBench -p shape=small
#        bench/run.sh -l                 (list the benchmarks)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../scripts/jdk.sh"
JAVA_HOME="$(lstm_jdk)" || exit 1
export JAVA_HOME
# the engine's artifact and its tests' jar (the scalar references) into the local repository, then the benchmarks
(cd "$here/.." && ./mvnw -q -B -DskipTests -Dinvoker.skip install && ./mvnw -q -B -f bench/pom.xml package)
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$JAVA_HOME/bin/java" \
  --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:-UseProfiledLoopPredicate \
  -jar "$here/target/benchmarks.jar" "$@"
