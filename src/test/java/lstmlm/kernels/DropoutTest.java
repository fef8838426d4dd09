package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.floats;
import static lstmlm.kernels.KernelTestSupport.get;
import static lstmlm.kernels.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Masks are integer hashing plus one float division: every comparison here is exact. */
class DropoutTest {
    static final int L = VectorShapes.F.length();

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 17, 1001, 4099})
    void maskMatchesReferenceBitForBit(int n) {
        try (Arena arena = Arena.ofConfined()) {
            for (float keep : new float[] {0.35f, 0.5f, 0.9f, 1f}) {
                for (long seed : new long[] {0, 1, -7, 0x123456789ABCDEFL}) {
                    MemorySegment a = floats(arena, n + 3), b = floats(arena, n + 3);
                    Dropout.mask(a, 3, n, keep, seed);
                    DropoutReference.mask(b, 3, n, keep, seed);
                    assertSameFloats(b, a, "mask n=" + n + " keep=" + keep + " seed=" + seed);
                }
            }
        }
    }

    /** Element i depends only on (seed, i): a short mask (all scalar tail) is a prefix of a long one. */
    @Test
    void decisionDependsOnlyOnSeedAndIndex() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment longMask = floats(arena, 1001);
            Dropout.mask(longMask, 0, 1001, 0.5f, 42);
            for (int n : new int[] {1, L - 1, L + 5, 37}) {
                MemorySegment shortMask = floats(arena, n + 1);
                Dropout.mask(shortMask, 1, n, 0.5f, 42);
                for (int i = 0; i < n; i++) {
                    assertEquals(get(longMask, i), get(shortMask, 1 + i), "n=" + n + " i=" + i);
                }
            }
        }
    }

    /**
     * A part of a mask (a data-parallel rank's rows) is that part of the whole mask, at any start,
     * vector-aligned or not, with the scalar reference over the whole mask as the oracle.
     */
    @Test
    void aPartOfAMaskEqualsThatPartOfTheWhole() {
        try (Arena arena = Arena.ofConfined()) {
            int total = 1003;
            MemorySegment whole = floats(arena, total);
            DropoutReference.mask(whole, 0, total, 0.7f, 99);
            for (int first : new int[] {0, 1, L - 1, L, 3 * L + 5, 500}) {
                for (int n : new int[] {1, L - 1, 2 * L + 3, total - first}) {
                    if (first + n > total) continue;
                    MemorySegment part = floats(arena, n + 2);
                    Dropout.mask(part, 2, n, 0.7f, 99, first);
                    for (int i = 0; i < n; i++) {
                        assertEquals(get(whole, first + i), get(part, 2 + i), "first=" + first + " n=" + n + " i=" + i);
                    }
                }
            }
        }
    }

    /** splitmix64's published first output for state 0. */
    @Test
    void splitmix64KnownValue() {
        assertEquals(0xE220A8397B1DCDAFL, Dropout.splitmix64(0));
    }

    /** The documented formula, re-derived here with 64-bit arithmetic masked to 32 bits. */
    @Test
    void maskFollowsDocumentedFormula() {
        int n = 3 * L + 7;
        float keep = 0.6f;
        long seed = 2024;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = floats(arena, n);
            Dropout.mask(m, 0, n, keep, seed);
            long z = seed + 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            long k1 = z & 0xFFFFFFFFL, k2 = z >>> 32;
            long threshold = (long) (0.6f * 16777216.0);
            for (int i = 0; i < n; i++) {
                long x = lowbias32((i * 0x9E3779B9L + k1) & 0xFFFFFFFFL);
                x = lowbias32(x ^ k2);
                float expected = (x >>> 8) < threshold ? 1f / keep : 0f;
                assertEquals(expected, get(m, i), "i=" + i);
            }
        }
    }

    private static long lowbias32(long x) {
        x ^= x >>> 16;
        x = (x * 0x7feb352dL) & 0xFFFFFFFFL;
        x ^= x >>> 15;
        x = (x * 0x846ca68bL) & 0xFFFFFFFFL;
        x ^= x >>> 16;
        return x;
    }

    /**
     * Over n = 1e6 independent Bernoulli(p) draws the kept fraction has sd sqrt(p(1-p)/n) ≤ 5e-4;
     * 6 sd bounds give a false failure rate ~1e-9. The same holds for neighbouring pairs (p²) and
     * for the fraction where two seeds disagree (2p(1-p)), which would be far off for correlated masks.
     */
    @ParameterizedTest
    @ValueSource(floats = {0.5f, 0.65f, 0.9f})
    void keptFractionMatchesKeepProb(float keep) {
        int n = 1_000_000;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = floats(arena, n), b = floats(arena, n), c = floats(arena, n);
            Dropout.mask(a, 0, n, keep, 1);
            Dropout.mask(b, 0, n, keep, 2);
            Dropout.mask(c, 0, n, keep, Dropout.splitSeed(1, 0));
            long kept = 0, pairs = 0, diffB = 0, diffC = 0;
            double sum = 0;
            for (int i = 0; i < n; i++) {
                boolean ka = get(a, i) != 0f;
                kept += ka ? 1 : 0;
                sum += get(a, i);
                if (i > 0 && ka && get(a, i - 1) != 0f) {
                    pairs++;
                }
                diffB += ka != (get(b, i) != 0f) ? 1 : 0;
                diffC += ka != (get(c, i) != 0f) ? 1 : 0;
            }
            double p = keep;
            within(p, kept / (double) n, p * (1 - p), n, "kept fraction");
            // overlapping pairs share a draw: Var = p²(1-p²) + 2(p³-p⁴) per pair
            within(p * p, pairs / (double) (n - 1), p * p * (1 - p * p) + 2 * p * p * p * (1 - p), n, "neighbour pairs");
            within(2 * p * (1 - p), diffB / (double) n, 2 * p * (1 - p) * (1 - 2 * p * (1 - p)), n, "seed 1 vs 2");
            within(2 * p * (1 - p), diffC / (double) n, 2 * p * (1 - p) * (1 - 2 * p * (1 - p)), n, "seed vs split");
            // inverted dropout keeps the expectation: mean of the mask ≈ 1
            within(1.0, sum / n, (1 - p) / p, n, "mask mean");
        }
    }

    private static void within(double expected, double actual, double variance, int n, String what) {
        double bound = 6 * Math.sqrt(variance / n);
        assertTrue(Math.abs(actual - expected) <= bound,
                what + ": expected " + expected + " ± " + bound + " but was " + actual);
    }

    @Test
    void differentSeedsGiveDifferentMasks() {
        int n = 1000;
        try (Arena arena = Arena.ofConfined()) {
            Set<String> seen = new HashSet<>();
            for (long seed = 0; seed < 64; seed++) {
                MemorySegment m = floats(arena, n);
                Dropout.mask(m, 0, n, 0.5f, seed);
                StringBuilder bits = new StringBuilder(n);
                for (int i = 0; i < n; i++) {
                    bits.append(get(m, i) != 0f ? '1' : '0');
                }
                assertTrue(seen.add(bits.toString()), "seed " + seed + " repeats an earlier mask");
            }
        }
    }

    @Test
    void keepAllAndBadKeepProb() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = floats(arena, 100);
            Dropout.mask(m, 0, 100, 1f, 5);
            for (int i = 0; i < 100; i++) {
                assertEquals(1f, get(m, i));
            }
            assertThrows(IllegalArgumentException.class, () -> Dropout.mask(m, 0, 100, 0f, 5));
            assertThrows(IllegalArgumentException.class, () -> Dropout.mask(m, 0, 100, 1.5f, 5));
            assertThrows(IllegalArgumentException.class, () -> Dropout.mask(m, 0, 100, Float.NaN, 5));
        }
    }

    @Test
    void splitSeedIsDeterministicAndSpreadsStreams() {
        Set<Long> seen = new HashSet<>();
        for (long base : new long[] {0, 1, 12345}) {
            for (long stream = 0; stream < 1000; stream++) {
                long s = Dropout.splitSeed(base, stream);
                assertEquals(s, Dropout.splitSeed(base, stream));
                assertTrue(seen.add(s), "collision at base " + base + " stream " + stream);
            }
        }
        assertNotEquals(Dropout.splitSeed(1, 0), Dropout.splitSeed(0, 1));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 17, 1001})
    void applyMatchesReferenceAndWorksInPlace(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = random(arena, n + 2, rnd, -3f, 3f), mask = floats(arena, n + 1);
            Dropout.mask(mask, 1, n, 0.7f, n);
            MemorySegment out = floats(arena, n + 5), ref = floats(arena, n + 5);
            Dropout.apply(x, 2, mask, 1, out, 5, n);
            DropoutReference.apply(x, 2, mask, 1, ref, 5, n);
            assertSameFloats(ref, out, "out");
            for (int i = 0; i < n; i++) { // hand check: x * (0 or 1/0.7f)
                assertEquals(get(x, 2 + i) * get(mask, 1 + i), get(out, 5 + i));
            }
            MemorySegment inPlace = copyOf(arena, x);
            Dropout.apply(inPlace, 2, mask, 1, inPlace, 2, n);
            for (int i = 0; i < n; i++) {
                assertEquals(get(out, 5 + i), get(inPlace, 2 + i));
            }
        }
    }
}
