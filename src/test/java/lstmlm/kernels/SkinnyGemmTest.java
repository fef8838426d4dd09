package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertClose;
import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.random;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Against a double-precision triple loop. Sums of k float products: the kernel rounds each FMA
 * in float, so the error grows like sqrt(k)·ulp of the terms: rtol 1e-5, atol 1e-5·sqrt(k).
 */
class SkinnyGemmTest {

    @ParameterizedTest
    @CsvSource({"1,1,1", "5,3,16", "7,13,37", "20,200,800", "20,37,2600", "6,650,99", "11,64,65"})
    void matchesTheTripleLoopWithOffsetsAndStrides(int m, int k, int n) {
        SplittableRandom rnd = new SplittableRandom(m * 131L + k * 7L + n);
        int lda = k + 3, ldb = n + 5, ldc = n + 2;
        long aOff = 2, bOff = 7, cOff = 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, aOff + (long) m * lda, rnd, -1f, 1f);
            MemorySegment b = random(arena, bOff + (long) k * ldb, rnd, -1f, 1f);
            MemorySegment c = random(arena, cOff + (long) m * ldc, rnd, -1f, 1f);
            MemorySegment expected = copyOf(arena, c);
            SkinnyGemmReference.multiplyAdd(m, k, a, aOff, lda, b, bOff, ldb, expected, cOff, ldc, 0, n);
            SkinnyGemm.multiplyAdd(m, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, 0, n);
            assertClose(expected, c, 1e-5, 1e-5 * Math.sqrt(k), m + "x" + k + "x" + n);
        }
    }

    /** Splitting the columns among threads must not change a single bit, nor touch other columns. */
    @Test
    void columnRangesComposeBitForBit() {
        int m = 20, k = 61, n = 300;
        SplittableRandom rnd = new SplittableRandom(5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, (long) m * k, rnd, -1f, 1f);
            MemorySegment b = random(arena, (long) k * n, rnd, -1f, 1f);
            MemorySegment c0 = random(arena, (long) m * n, rnd, -1f, 1f);
            MemorySegment whole = copyOf(arena, c0), parts = copyOf(arena, c0), firstOnly = copyOf(arena, c0);
            SkinnyGemm.multiplyAdd(m, k, a, 0, k, b, 0, n, whole, 0, n, 0, n);
            int[] cuts = {0, 64, 128, 192, 300};
            for (int i = 0; i + 1 < cuts.length; i++) {
                SkinnyGemm.multiplyAdd(m, k, a, 0, k, b, 0, n, parts, 0, n, cuts[i], cuts[i + 1]);
            }
            assertSameFloats(whole, parts, "split at 64-column blocks");
            SkinnyGemm.multiplyAdd(m, k, a, 0, k, b, 0, n, firstOnly, 0, n, 0, 64);
            for (int r = 0; r < m; r++) {
                for (int j = 64; j < n; j++) {
                    long i = (long) r * n + j;
                    org.junit.jupiter.api.Assertions.assertEquals(c0.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i),
                            firstOnly.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i), "column " + j + " untouched");
                }
            }
        }
    }
}
