# Finds the JDK this project builds and runs with: the one place that decides it, sourced by
# ./lstm, ./mvnw (so the README's build and test commands) and bench/run.sh. POSIX sh.
#
#   lstm_jdk    prints the home of a JDK >= 22 (the Vector API and FFM as this project uses them):
#               JAVA_HOME when it qualifies, else the newest JDK under ${LSTM_JVM_DIR:-/usr/lib/jvm}.
#               Where there is none it says so in one line on stderr, with the fix, and fails.

LSTM_MIN_JDK=22

# The feature version (e.g. 25) of the JDK at $1, or nothing. The release file every JDK since 9
# carries is read first; running the JDK's java is the fallback (~0.1 s).
lstm_jdk_version() {
    [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
    _v=""
    if [ -f "$1/release" ]; then
        _v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" 2>/dev/null)
    fi
    if [ -z "$_v" ]; then
        _v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 \
            | sed -n 's/^ *java.specification.version = \([0-9][0-9]*\).*/\1/p')
    fi
    echo "$_v"
}

lstm_jdk() {
    if [ -n "${JAVA_HOME:-}" ]; then
        _v=$(lstm_jdk_version "$JAVA_HOME")
        if [ -n "$_v" ] && [ "$_v" -ge "$LSTM_MIN_JDK" ]; then
            echo "$JAVA_HOME"
            return 0
        fi
    fi
    _dir="${LSTM_JVM_DIR:-/usr/lib/jvm}"
    _best="" _best_v=0 _seen=""
    # find, not a glob: ./mvnw runs with globbing off (set -f)
    for _d in $(find "$_dir" -mindepth 1 -maxdepth 1 \( -type d -o -type l \) 2>/dev/null | sort); do
        _v=$(lstm_jdk_version "$_d")
        [ -n "$_v" ] || continue
        _seen="$_seen ${_d##*/}=$_v"
        if [ "$_v" -ge "$LSTM_MIN_JDK" ] && [ "$_v" -gt "$_best_v" ]; then
            _best="$_d" _best_v="$_v"
        fi
    done
    if [ -z "$_best" ]; then
        echo "lstm-lm needs a JDK $LSTM_MIN_JDK or newer (25 recommended) and found none (JAVA_HOME=${JAVA_HOME:-<unset>};" \
            "under $_dir:${_seen:- nothing}). Install one, e.g. Temurin 25, and set JAVA_HOME to it." >&2
        return 1
    fi
    echo "$_best"
}
