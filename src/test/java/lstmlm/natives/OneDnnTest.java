package lstmlm.natives;

import lstmlm.kernels.Bf16;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** oneDNN's bf16 GEMM through our binding, against a double triple loop over the same bf16 inputs. */
class OneDnnTest {

    static MemorySegment bf16(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(2L * x.length, 64);
        for (int i = 0; i < x.length; i++) s.setAtIndex(Bf16.BF16, i, Bf16.fromFloat(x[i]));
        return s;
    }

    /** x with each element rounded to bf16, as the GEMM sees it. */
    static float[] rounded(float[] x) {
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) r[i] = Bf16.toFloat(Bf16.fromFloat(x[i]));
        return r;
    }

    @Test
    void everyTransposeCombinationMatchesTheReferenceOnTheRoundedInputs() {
        SplittableRandom r = new SplittableRandom(9);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {20, 33, 17}, {37, 64, 129}, {20, 800, 200}};
        try (Arena arena = Arena.ofConfined()) {
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                for (boolean ta : new boolean[]{false, true}) {
                    for (boolean tb : new boolean[]{false, true}) {
                        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
                        int aOff = 11, bOff = 5, cOff = 9;
                        float[] a = BlasTest.random(r, aOff + (ta ? k : m) * lda);
                        float[] b = BlasTest.random(r, bOff + (tb ? n : k) * ldb);
                        float[] c = BlasTest.random(r, cOff + m * ldc);
                        float[] expected = c.clone();
                        BlasTest.referenceGemm(ta, tb, m, n, k, 0.75f, rounded(a), aOff, lda, rounded(b), bOff, ldb,
                                0.5f, expected, cOff, ldc);
                        MemorySegment cs = BlasTest.copy(arena, c);
                        OneDnn.gemmBf16(ta, tb, m, n, k, 0.75f, bf16(arena, a), aOff, lda, bf16(arena, b), bOff, ldb,
                                0.5f, cs, cOff, ldc);
                        float[] got = cs.toArray(JAVA_FLOAT);
                        for (int i = 0; i < got.length; i++) {
                            // exact products of bf16 inputs, summed in float32: error ~ k * 2^-24 of the terms' size
                            assertEquals(expected[i], got[i], 1e-5f * (k + Math.abs(expected[i])),
                                    "ta=" + ta + " tb=" + tb + " shape " + m + "x" + n + "x" + k + " at " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theSameCallGivesTheSameBitsAndReportsWhereItRuns() {
        SplittableRandom r = new SplittableRandom(3);
        int m = 70, n = 300, k = 257;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = bf16(arena, BlasTest.random(r, m * k)), b = bf16(arena, BlasTest.random(r, k * n));
            MemorySegment c1 = arena.allocate(4L * m * n, 64), c2 = arena.allocate(4L * m * n, 64);
            OneDnn.gemmBf16(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c1, 0, n);
            OneDnn.gemmBf16(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c2, 0, n);
            assertEquals(-1L, c1.mismatch(c2), "deterministic");
        }
        assertFalse(OneDnn.isa().isBlank());
        assertTrue(OneDnn.version().startsWith("3."), OneDnn.version());
        int before = OneDnn.threads();
        OneDnn.setThreads(1);
        assertEquals(1, OneDnn.threads());
        OneDnn.setThreads(before);
    }
}
