package lstmlm.kernels;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Shared helpers: native float segments, random fills, element-wise comparisons. */
final class KernelTestSupport {
    private KernelTestSupport() {}

    static MemorySegment floats(Arena arena, long n) {
        return arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(n, 1));
    }

    static MemorySegment random(Arena arena, long n, SplittableRandom rnd, float lo, float hi) {
        MemorySegment s = floats(arena, n);
        for (long i = 0; i < n; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (lo + (hi - lo) * rnd.nextDouble()));
        }
        return s;
    }

    static MemorySegment copyOf(Arena arena, MemorySegment src) {
        MemorySegment s = arena.allocate(src.byteSize(), 64);
        s.copyFrom(src);
        return s;
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
    }

    static void set(MemorySegment s, long i, float v) {
        s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
    }

    static long size(MemorySegment s) {
        return s.byteSize() / Float.BYTES;
    }

    /** Every element bit-identical (NaN-safe), reporting the first mismatch. */
    static void assertSameFloats(MemorySegment expected, MemorySegment actual, String what) {
        long n = size(expected);
        for (long i = 0; i < n; i++) {
            float e = get(expected, i), a = get(actual, i);
            if (Float.floatToIntBits(e) != Float.floatToIntBits(a)) {
                fail(what + ": element " + i + " expected " + e + " but was " + a);
            }
        }
    }

    /** |a - e| <= rtol*|e| + atol element-wise over the whole segment. */
    static void assertClose(MemorySegment expected, MemorySegment actual, double rtol, double atol, String what) {
        long n = size(expected);
        for (long i = 0; i < n; i++) {
            assertClose(get(expected, i), get(actual, i), rtol, atol, what + "[" + i + "]");
        }
    }

    static void assertClose(double expected, double actual, double rtol, double atol, String what) {
        double err = Math.abs(actual - expected);
        if (!(err <= rtol * Math.abs(expected) + atol)) { // also fails on NaN
            fail(what + ": expected " + expected + " but was " + actual + " (|err|=" + err
                    + ", allowed " + (rtol * Math.abs(expected) + atol) + ")");
        }
    }
}
