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
 * oneDNN's matmul over a packed B against a double triple loop over the same bf16 inputs: odd
 * shapes, offsets and padded strides, both layouts of B; C accumulates (beta 1); packing a second
 * B replaces the first (a stale packed copy is off by whole terms).
 */
class PackedBf16MatmulTest {

    @ParameterizedTest(name = "m={0} n={1} k={2} transB={3}")
    @CsvSource({
            "20, 203, 37, false",
            "20, 203, 37, true",
            "1, 1, 1, false",
            "3, 64, 129, true",
            "20, 650, 160, false",
            "20, 130, 650, true",
    })
    void multipliesWhatWasPackedLast(int m, int n, int k, boolean transB) {
        org.junit.jupiter.api.Assumptions.assumeTrue(OneDnnSupport.packedBf16Matmul(),
                "oneDNN has no bf16 matmul on this CPU (" + OneDnn.isa() + "); the engine does not use it here");
        SplittableRandom r = new SplittableRandom(m * 7919L + n * 31L + k);
        int lda = k + 3, ldb = (transB ? k : n) + 2, ldc = n + 5;
        int aOff = 11, bOff = 5, cOff = 9;
        int bSize = bOff + (transB ? n : k) * ldb;
        float[] a = BlasTest.random(r, aOff + m * lda), stale = BlasTest.random(r, bSize), b = BlasTest.random(r, bSize);
        float[] c = BlasTest.random(r, cOff + m * ldc);
        float[] expected = c.clone();
        BlasTest.referenceGemm(false, transB, m, n, k, 1f, OneDnnTest.rounded(a), aOff, lda, OneDnnTest.rounded(b), bOff, ldb,
                1f, expected, cOff, ldc);
        try (Arena arena = Arena.ofConfined(); PackedBf16Matmul mm = new PackedBf16Matmul(m, n, k, lda, transB, ldb, ldc)) {
            assertFalse(mm.implementation().isBlank());
            MemorySegment cs = BlasTest.copy(arena, c);
            mm.pack(OneDnnTest.bf16(arena, stale), bOff);
            mm.pack(OneDnnTest.bf16(arena, b), bOff);
            mm.multiplyAdd(OneDnnTest.bf16(arena, a), aOff, cs, cOff);
            float[] got = cs.toArray(JAVA_FLOAT);
            for (int i = 0; i < got.length; i++) {
                // exact products of bf16 inputs summed in float32: error ~ k · 2^-24 of the terms' size
                assertEquals(expected[i], got[i], 1e-5f * (k + Math.abs(expected[i])),
                        mm.implementation() + " transB=" + transB + " at " + i);
            }
        }
    }

    @Test
    void aStrideShorterThanItsRowIsRefusedBeforeOneDnnSeesIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PackedBf16Matmul(20, 10, 5, 4, false, 10, 10));
        assertTrue(e.getMessage().contains("lda 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PackedBf16Matmul(20, 10, 5, 5, true, 4, 10));
        assertThrows(IllegalArgumentException.class, () -> new PackedBf16Matmul(20, 10, 5, 5, false, 10, 9));
    }
}
