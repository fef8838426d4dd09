package lstmlm.natives;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlasTest {

    /** Plain triple loop in double: C = alpha·op(A)·op(B) + beta·C. */
    static void referenceGemm(boolean ta, boolean tb, int m, int n, int k, float alpha,
                              float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    float av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    float bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += (double) av * bv;
                }
                c[cOff + i * ldc + j] = (float) (alpha * s + beta * c[cOff + i * ldc + j]);
            }
        }
    }

    static MemorySegment copy(Arena arena, float[] x) {
        MemorySegment s = arena.allocate((long) x.length * Float.BYTES, 64);
        MemorySegment.copy(x, 0, s, JAVA_FLOAT, 0, x.length);
        return s;
    }

    static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    @Test
    void everyTransposeCombinationMatchesTheReference() {
        SplittableRandom r = new SplittableRandom(7);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {20, 33, 17}, {37, 64, 129}};
        try (Arena arena = Arena.ofConfined()) {
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                for (boolean ta : new boolean[]{false, true}) {
                    for (boolean tb : new boolean[]{false, true}) {
                        // leading dimensions wider than the matrices and nonzero offsets,
                        // as the engine uses sub-blocks of larger buffers
                        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
                        int aOff = 11, bOff = 5, cOff = 9;
                        float[] a = random(r, aOff + (ta ? k : m) * lda);
                        float[] b = random(r, bOff + (tb ? n : k) * ldb);
                        float[] c = random(r, cOff + m * ldc);
                        float[] expected = c.clone();
                        referenceGemm(ta, tb, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, 0.5f, expected, cOff, ldc);
                        MemorySegment cs = copy(arena, c);
                        Blas.sgemm(ta, tb, m, n, k, 0.75f, copy(arena, a), aOff, lda, copy(arena, b), bOff, ldb,
                                0.5f, cs, cOff, ldc);
                        float[] got = cs.toArray(JAVA_FLOAT);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(expected[i], got[i], 1e-4f * (1 + Math.abs(expected[i])),
                                    "ta=" + ta + " tb=" + tb + " shape " + m + "x" + n + "x" + k + " at " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void largeCallsTakeTheOrdinaryPathAndStillAgree() {
        // 160x160x200 is above the critical-call threshold
        SplittableRandom r = new SplittableRandom(3);
        int m = 160, n = 160, k = 200;
        float[] a = random(r, m * k), b = random(r, k * n), c = new float[m * n];
        float[] expected = c.clone();
        referenceGemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, expected, 0, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = copy(arena, c);
            Blas.sgemm(false, false, m, n, k, 1f, copy(arena, a), 0, k, copy(arena, b), 0, n, 0f, cs, 0, n);
            float[] got = cs.toArray(JAVA_FLOAT);
            for (int i = 0; i < got.length; i++) assertEquals(expected[i], got[i], 1e-3f);
        }
    }

    @Test
    void reportsCoreNameConfigAndThreads() {
        assertFalse(Blas.coreName().isBlank());
        assertTrue(Blas.config().toLowerCase().contains("openblas"), Blas.config());
        int before = Blas.threads();
        Blas.setThreads(1);
        assertEquals(1, Blas.threads());
        Blas.setThreads(before);
        assertFalse(Blas.source().isBlank());
    }
}
