package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertClose;
import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Against a double-precision triple loop over the unpacked B. Sums of k float products: the kernel
 * rounds each FMA in float, so the error grows like sqrt(k)·ulp of the terms: rtol 1e-5,
 * atol 1e-5·sqrt(k). Shapes cover a partial last panel, rows not a multiple of 4, and k longer
 * than one chunk (uneven too). Every test runs both block widths (2 vectors, AVX2's; 3, AVX-512's)
 * whatever this CPU picks.
 */
class SkinnyGemmTest {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;

    private static final int[] WIDTHS = {2, 3};

    @ParameterizedTest
    @CsvSource({"1,1,1", "5,3,16", "7,13,37", "20,200,800", "20,37,2600", "6,650,99", "11,64,65", "20,2500,50", "3,1025,49"})
    void packedProductMatchesTheTripleLoop(int m, int k, int n) {
        for (int vectors : WIDTHS) packedProductMatchesTheTripleLoop(m, k, n, vectors);
    }

    private static void packedProductMatchesTheTripleLoop(int m, int k, int n, int vectors) {
        SplittableRandom rnd = new SplittableRandom(m * 131L + k * 7L + n);
        int lda = k + 3, ldb = n + 5, ldc = n + 2;
        long aOff = 2, bOff = 7, cOff = 1, pOff = 9;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, aOff + (long) m * lda, rnd, -1f, 1f);
            MemorySegment b = random(arena, bOff + (long) k * ldb, rnd, -1f, 1f);
            MemorySegment c = random(arena, cOff + (long) m * ldc, rnd, -1f, 1f);
            MemorySegment expected = copyOf(arena, c);
            SkinnyGemmReference.multiplyAdd(m, k, a, aOff, lda, b, bOff, ldb, expected, cOff, ldc, 0, n);
            MemorySegment panels = arena.allocate(4 * (pOff + SkinnyGemm.packedSize(k, n, vectors)), 64);
            SkinnyGemm.pack(b, bOff, ldb, k, n, panels, pOff, 0, SkinnyGemm.panelCount(n, vectors), vectors);
            SkinnyGemm.multiplyAdd(m, k, a, aOff, lda, panels, pOff, c, cOff, ldc, n, 0, SkinnyGemm.panelCount(n, vectors),
                    scratch(arena), 3, vectors);
            assertClose(expected, c, 1e-5, 1e-5 * Math.sqrt(k), m + "x" + k + "x" + n + ", " + vectors + " vectors");
        }
    }

    /** Packing Wᵀ straight from W gives exactly the panels of the explicit transpose, padding included. */
    @ParameterizedTest
    @CsvSource({"1,1", "3,70", "33,31", "200,800", "100,49"})
    void transposedPackingEqualsPackingTheTranspose(int k, int n) {
        for (int vectors : WIDTHS) transposedPackingEqualsPackingTheTranspose(k, n, vectors);
    }

    private static void transposedPackingEqualsPackingTheTranspose(int k, int n, int vectors) {
        SplittableRandom rnd = new SplittableRandom(k * 31L + n);
        int ldw = k + 4;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = random(arena, 5 + (long) n * ldw, rnd, -1f, 1f); // W [n × k]
            MemorySegment wt = arena.allocate(4L * k * n, 64);                  // Wᵀ [k × n]
            for (int i = 0; i < n; i++) {
                for (int p = 0; p < k; p++) wt.setAtIndex(FLOAT, (long) p * n + i, w.getAtIndex(FLOAT, 5 + (long) i * ldw + p));
            }
            long size = SkinnyGemm.packedSize(k, n, vectors);
            MemorySegment direct = random(arena, size, rnd, -1f, 1f), viaTranspose = random(arena, size, rnd, -1f, 1f);
            int panels = SkinnyGemm.panelCount(n, vectors), half = panels / 2;
            SkinnyGemm.packTransposed(w, 5, ldw, k, n, direct, 0, 0, half, vectors);
            SkinnyGemm.packTransposed(w, 5, ldw, k, n, direct, 0, half, panels, vectors);
            SkinnyGemm.pack(wt, 0, n, k, n, viaTranspose, 0, 0, panels, vectors);
            assertSameFloats(viaTranspose, direct, k + "x" + n + ", " + vectors + " vectors");
            // the padding past n is zero, so the kernel may read it
            int width = SkinnyGemm.panelWidth(vectors);
            for (int p = 0; p < k; p++) {
                for (int j = n; j < panels * width; j++) {
                    long at = (long) (panels - 1) * k * width + (long) p * width + (j - (panels - 1) * width);
                    assertEquals(0f, direct.getAtIndex(FLOAT, at), "padding at row " + p + " column " + j);
                }
            }
        }
    }

    /** Scratch with 3 floats before the tile, and garbage in it: the kernel must clear what it uses. */
    private static MemorySegment scratch(Arena arena) {
        return random(arena, 3 + SkinnyGemm.scratchSize(), new SplittableRandom(9), -9f, 9f);
    }

    /** Splitting the panels among threads must not change a single bit, nor touch other columns. */
    @Test
    void panelRangesComposeBitForBit() {
        for (int vectors : WIDTHS) panelRangesComposeBitForBit(vectors);
    }

    private static void panelRangesComposeBitForBit(int vectors) {
        int m = 20, k = 1500, n = 300;
        SplittableRandom rnd = new SplittableRandom(5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, (long) m * k, rnd, -1f, 1f);
            MemorySegment b = random(arena, (long) k * n, rnd, -1f, 1f);
            MemorySegment c0 = random(arena, (long) m * n, rnd, -1f, 1f);
            MemorySegment panels = arena.allocate(4 * SkinnyGemm.packedSize(k, n, vectors), 64);
            int count = SkinnyGemm.panelCount(n, vectors), width = SkinnyGemm.panelWidth(vectors);
            SkinnyGemm.pack(b, 0, n, k, n, panels, 0, 0, count, vectors);
            MemorySegment whole = copyOf(arena, c0), parts = copyOf(arena, c0), firstOnly = copyOf(arena, c0);
            SkinnyGemm.multiplyAdd(m, k, a, 0, k, panels, 0, whole, 0, n, n, 0, count, scratch(arena), 3, vectors);
            for (int q = 0; q < count; q++) {
                SkinnyGemm.multiplyAdd(m, k, a, 0, k, panels, 0, parts, 0, n, n, q, q + 1, scratch(arena), 3, vectors);
            }
            assertSameFloats(whole, parts, "one panel at a time, " + vectors + " vectors");
            SkinnyGemm.multiplyAdd(m, k, a, 0, k, panels, 0, firstOnly, 0, n, n, 0, 1, scratch(arena), 3, vectors);
            for (int r = 0; r < m; r++) {
                for (int j = width; j < n; j++) {
                    long i = (long) r * n + j;
                    assertEquals(c0.getAtIndex(FLOAT, i), firstOnly.getAtIndex(FLOAT, i), "column " + j + " untouched");
                }
            }
        }
    }

    /**
     * The block width changes which columns share a panel, not how any element is summed: both
     * widths give the same bits, so the width a CPU picks changes no number the engine computes.
     * Partial panels and rows left over included.
     */
    @ParameterizedTest
    @CsvSource({"20,1500,300", "7,1025,37", "20,650,2600", "3,40,17"})
    void bothWidthsGiveTheSameBits(int m, int k, int n) {
        SplittableRandom rnd = new SplittableRandom(m * 7L + k * 3L + n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, (long) m * k, rnd, -1f, 1f);
            MemorySegment b = random(arena, (long) k * n, rnd, -1f, 1f);
            MemorySegment c0 = random(arena, (long) m * n, rnd, -1f, 1f);
            MemorySegment[] out = new MemorySegment[2];
            for (int i = 0; i < 2; i++) {
                int vectors = WIDTHS[i], count = SkinnyGemm.panelCount(n, vectors);
                MemorySegment panels = arena.allocate(4 * SkinnyGemm.packedSize(k, n, vectors), 64);
                SkinnyGemm.pack(b, 0, n, k, n, panels, 0, 0, count, vectors);
                out[i] = copyOf(arena, c0);
                SkinnyGemm.multiplyAdd(m, k, a, 0, k, panels, 0, out[i], 0, n, n, 0, count, scratch(arena), 3, vectors);
            }
            assertSameFloats(out[1], out[0], m + "x" + k + "x" + n);
        }
    }
}
