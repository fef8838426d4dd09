package lstmlm.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** float32 ↔ bf16 against a reference written from the definition of round-to-nearest-even. */
class Bf16Test {

    /** The bf16 nearest x by comparing distances in double; ties go to the even (bit 16 clear) one. */
    static short reference(float x) {
        if (Float.isNaN(x)) return (short) 0x7FC0; // any NaN; compared as "is a NaN" below
        int bits = Float.floatToRawIntBits(x);
        int lower = bits & 0xFFFF0000;                 // toward zero
        int upper = lower + 0x10000;                   // away from zero
        if (Float.isInfinite(x) || (bits & 0xFFFF) == 0) return (short) (bits >>> 16);
        double ax = Math.abs((double) x);
        double lo = Math.abs((double) Float.intBitsToFloat(lower));
        double hi = (upper & 0x7FFFFFFF) == 0x7F800000 ? Math.scalb(1.0, 128) : Math.abs((double) Float.intBitsToFloat(upper));
        double dLo = ax - lo, dHi = hi - ax;
        if (dLo < dHi) return (short) (lower >>> 16);
        if (dHi < dLo) return (short) (upper >>> 16);
        return ((lower >>> 16) & 1) == 0 ? (short) (lower >>> 16) : (short) (upper >>> 16);
    }

    static void assertSame(float x, short expected, short actual) {
        if (Float.isNaN(x)) {
            assertTrue(Float.isNaN(Bf16.toFloat(actual)), "NaN stays NaN: " + Integer.toHexString(actual & 0xFFFF));
        } else {
            assertEquals(expected & 0xFFFF, actual & 0xFFFF, "bf16 of " + x + " (" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
        }
    }

    @Test
    void scalarRoundingIsNearestEven() {
        float[] special = {0f, -0f, 1f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
                -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
                Float.intBitsToFloat(0x3F808000), // exactly halfway, lower even: stays 0x3F80
                Float.intBitsToFloat(0x3F818000), // exactly halfway, lower odd: goes to 0x3F82
                Float.intBitsToFloat(0x7F7F8000), // halfway to 2^128: rounds to infinity (even)
                Float.intBitsToFloat(0x7F7F7FFF), // just under: the largest bf16
                Float.intBitsToFloat(0x7FFFFFFF), // NaN whose payload would carry into infinity
                Float.intBitsToFloat(0xFF800001)};
        for (float x : special) assertSame(x, reference(x), Bf16.fromFloat(x));
        assertEquals(0x3F80, Bf16.fromFloat(Float.intBitsToFloat(0x3F808000)) & 0xFFFF);
        assertEquals(0x3F82, Bf16.fromFloat(Float.intBitsToFloat(0x3F818000)) & 0xFFFF);
        assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.intBitsToFloat(0x7F7F8000))));
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            assertSame(x, reference(x), Bf16.fromFloat(x));
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 0, 0", "15, 1, 3", "16, 0, 0", "17, 5, 2", "100, 3, 1", "1000, 7, 9", "4099, 0, 1"})
    void vectorConversionsMatchTheScalarOnesAtOddLengthsAndOffsets(int n, long srcOff, long dstOff) {
        SplittableRandom r = new SplittableRandom(n * 31L + srcOff);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f = arena.allocate(4L * (srcOff + n), 64), h = arena.allocate(2L * (dstOff + n + 1), 64);
            MemorySegment back = arena.allocate(4L * (srcOff + n + 1), 64);
            for (int i = 0; i < n; i++) {
                float x = switch (i % 4) {
                    case 0 -> Float.intBitsToFloat(r.nextInt());      // any bits: NaNs, infinities, subnormals
                    case 1 -> (float) (r.nextGaussian() * 3);
                    case 2 -> Float.intBitsToFloat((r.nextInt() & 0xFFFF0000) | 0x8000); // halfway cases
                    default -> (float) r.nextDouble(-1e-3, 1e-3);
                };
                f.setAtIndex(JAVA_FLOAT, srcOff + i, x);
            }
            h.setAtIndex(Bf16.BF16, dstOff + n, (short) 0x1234); // past the end: untouched
            Bf16.fromFloats(f, srcOff, h, dstOff, n);
            for (int i = 0; i < n; i++) {
                float x = f.getAtIndex(JAVA_FLOAT, srcOff + i);
                assertSame(x, Bf16.fromFloat(x), h.getAtIndex(Bf16.BF16, dstOff + i));
            }
            assertEquals(0x1234, h.getAtIndex(Bf16.BF16, dstOff + n));
            Bf16.toFloats(h, dstOff, back, srcOff, n);
            for (int i = 0; i < n; i++) {
                short b = h.getAtIndex(Bf16.BF16, dstOff + i);
                assertEquals(b << 16, Float.floatToRawIntBits(back.getAtIndex(JAVA_FLOAT, srcOff + i)), "exact widening");
            }
        }
    }

    @Test
    void roundingErrorIsAtMostHalfAUnitInTheLastOfEightSignificantBits() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-20, 20)));
            double rel = Math.abs(Bf16.toFloat(Bf16.fromFloat(x)) - (double) x) / Math.abs(x);
            // 8 significant bits: half an ulp is 2^-8 of the leading bit's value, so at most 2^-8 of |x|
            assertTrue(rel <= Math.scalb(1.0, -8), x + " rounds off by " + rel);
        }
    }
}
