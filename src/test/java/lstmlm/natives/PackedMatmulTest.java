package lstmlm.natives;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * oneDNN's matmul over a packed B against a double triple loop over the same inputs (bf16 rounded
 * first for BF16): odd shapes, offsets and padded strides, both layouts of B, C accumulated or
 * overwritten; packing a second B replaces the first (a stale packed copy is off by whole terms);
 * a matmul for other rows over the same packed B reads what its owner packed.
 */
class PackedMatmulTest {

    @ParameterizedTest(name = "{0} m={1} n={2} k={3} transB={4} accumulate={5}")
    @CsvSource({
            "BF16, 20, 203, 37, false, true",
            "BF16, 20, 203, 37, true, true",
            "BF16, 1, 1, 1, false, true",
            "BF16, 3, 64, 129, true, true",
            "BF16, 20, 650, 160, false, true",
            "BF16, 20, 130, 650, true, true",
            "F32, 20, 203, 37, false, true",
            "F32, 20, 203, 37, true, false",
            "F32, 1, 1, 1, false, false",
            "F32, 64, 800, 400, false, false",
            "F32, 37, 1000, 200, true, false",
            "F32, 8, 130, 650, false, true",
    })
    void multipliesWhatWasPackedLast(PackedMatmul.Element element, int m, int n, int k, boolean transB, boolean accumulate) {
        assumeSupported(element);
        SplittableRandom r = new SplittableRandom(m * 7919L + n * 31L + k);
        int lda = k + 3, ldb = (transB ? k : n) + 2, ldc = n + 5;
        int aOff = 11, bOff = 5, cOff = 9;
        int bSize = bOff + (transB ? n : k) * ldb;
        float[] a = BlasTest.random(r, aOff + m * lda), stale = BlasTest.random(r, bSize), b = BlasTest.random(r, bSize);
        float[] c = BlasTest.random(r, cOff + m * ldc);
        float[] expected = c.clone();
        boolean bf16 = element == PackedMatmul.Element.BF16;
        BlasTest.referenceGemm(false, transB, m, n, k, 1f, bf16 ? OneDnnTest.rounded(a) : a, aOff, lda,
                bf16 ? OneDnnTest.rounded(b) : b, bOff, ldb, accumulate ? 1f : 0f, expected, cOff, ldc);
        try (Arena arena = Arena.ofConfined();
             PackedMatmul mm = new PackedMatmul(element, m, n, k, lda, transB, ldb, ldc, accumulate)) {
            assertFalse(mm.implementation().isBlank());
            MemorySegment cs = BlasTest.copy(arena, c);
            mm.pack(segment(arena, element, stale), bOff);
            mm.pack(segment(arena, element, b), bOff);
            mm.multiply(segment(arena, element, a), aOff, cs, cOff);
            assertClose(expected, cs.toArray(JAVA_FLOAT), k, mm.implementation() + " transB=" + transB);
        }
    }

    @ParameterizedTest(name = "{0} rows")
    @CsvSource({"1", "2", "3", "4", "5", "8", "33", "64", "200"})
    void otherRowCountsReadTheOwnersPackedBOrSayTheyCannot(int rows) {
        PackedMatmul.Element element = PackedMatmul.Element.F32;
        assumeSupported(element);
        int n = 300, k = 96, lda = 2 * k, ldc = n;
        SplittableRandom r = new SplittableRandom(rows);
        float[] a = BlasTest.random(r, rows * lda), b = BlasTest.random(r, k * n);
        float[] expected = new float[rows * ldc];
        BlasTest.referenceGemm(false, false, rows, n, k, 1f, a, 0, lda, b, 0, n, 0f, expected, 0, ldc);
        try (Arena arena = Arena.ofConfined();
             PackedMatmul owner = new PackedMatmul(element, 16, n, k, k, false, n, n, false)) {
            owner.pack(segment(arena, element, b), 0);
            PackedMatmul first;
            try {
                first = new PackedMatmul(owner, rows, lda, ldc);
            } catch (PackedMatmul.LayoutMismatch e) {
                // the engine then runs these rows on OpenBLAS; it must be this, not another failure
                assertTrue(e.getMessage().contains("differently for " + rows + " rows"), e.getMessage());
                return;
            }
            try (PackedMatmul view = first; PackedMatmul viewOfView = new PackedMatmul(view, rows, lda, ldc)) {
                assertEquals(0, view.packedBytes());
                assertTrue(owner.packedBytes() > 0);
                for (PackedMatmul mm : new PackedMatmul[]{view, viewOfView}) {
                    MemorySegment c = arena.allocate(4L * rows * ldc, 64);
                    mm.multiply(segment(arena, element, a), 0, c, 0);
                    assertClose(expected, c.toArray(JAVA_FLOAT), k, mm.implementation());
                }
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> view.pack(segment(arena, element, b), 0));
                assertTrue(e.getMessage().contains("pack that one"), e.getMessage());
            }
        }
    }

    /**
     * Matmuls made on one thread and run on others, several at once, give the bits they give run one
     * at a time. oneDNN's documentation allows that only to primitives with a scratchpad of their own
     * (its default, shared one ties a primitive to the thread that made it), which is why each
     * {@link PackedMatmul} has one; on this project's Zen 1 the shared one did not fail this test
     * either, so it guards the documented contract rather than a failure seen here.
     */
    @Test
    void matmulsMadeOnOneThreadRunTogetherOnOthersGiveTheirOwnBits() throws Exception {
        PackedMatmul.Element element = PackedMatmul.Element.F32;
        assumeSupported(element);
        int threads = 6, m = 5, n = 148, k = 74, rounds = 40;
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom r = new SplittableRandom(3);
            MemorySegment b = segment(arena, element, BlasTest.random(r, k * n));
            PackedMatmul[] mms = new PackedMatmul[threads];
            MemorySegment[] a = new MemorySegment[threads], expected = new MemorySegment[threads];
            try {
                for (int t = 0; t < threads; t++) {
                    mms[t] = new PackedMatmul(element, m, n, k, k, false, n, n, false);
                    mms[t].pack(b, 0);
                    a[t] = segment(arena, element, BlasTest.random(r, m * k));
                    expected[t] = arena.allocate(4L * m * n, 64);
                    mms[t].multiply(a[t], 0, expected[t], 0);
                }
                java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
                java.util.List<java.util.concurrent.Future<Long>> mismatches = new java.util.ArrayList<>();
                java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
                try {
                    for (int t = 0; t < threads; t++) {
                        int me = t;
                        mismatches.add(pool.submit(() -> {
                            MemorySegment c = arena.allocate(4L * m * n, 64);
                            start.await();
                            long bad = 0;
                            for (int i = 0; i < rounds; i++) {
                                mms[me].multiply(a[me], 0, c, 0);
                                if (c.mismatch(expected[me]) != -1) bad++;
                            }
                            return bad;
                        }));
                    }
                    for (int t = 0; t < threads; t++) assertEquals(0L, mismatches.get(t).get(), "matmul " + t + ": rounds off its own bits");
                } finally {
                    pool.shutdown();
                }
            } finally {
                for (PackedMatmul mm : mms) if (mm != null) mm.close();
            }
        }
    }

    @Test
    void aStrideShorterThanItsRowIsRefusedBeforeOneDnnSeesIt() {
        PackedMatmul.Element e16 = PackedMatmul.Element.BF16;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PackedMatmul(e16, 20, 10, 5, 4, false, 10, 10, true));
        assertTrue(e.getMessage().contains("lda 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PackedMatmul(e16, 20, 10, 5, 5, true, 4, 10, true));
        assertThrows(IllegalArgumentException.class, () -> new PackedMatmul(e16, 20, 10, 5, 5, false, 10, 9, true));
    }

    private static void assumeSupported(PackedMatmul.Element element) {
        org.junit.jupiter.api.Assumptions.assumeTrue(OneDnnSupport.packedMatmul(element),
                "oneDNN has no " + element + " matmul on this CPU (" + OneDnn.isa() + "); the engine does not use it here");
    }

    private static MemorySegment segment(Arena arena, PackedMatmul.Element element, float[] x) {
        return element == PackedMatmul.Element.BF16 ? OneDnnTest.bf16(arena, x) : BlasTest.copy(arena, x);
    }

    private static void assertClose(float[] expected, float[] got, int k, String what) {
        for (int i = 0; i < got.length; i++) {
            // products summed in float32: error ~ k · 2^-24 of the terms' size
            assertEquals(expected[i], got[i], 1e-5f * (k + Math.abs(expected[i])), what + " at " + i);
        }
    }
}
