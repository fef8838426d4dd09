package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.I;
import static lstmlm.kernels.VectorShapes.NATIVE;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Inverted dropout with a counter-based mask: element i's keep decision is a pure function of
 * (seed, i), so vector lanes and the scalar tail agree bit for bit, a mask can be rebuilt from its
 * seed instead of stored, and the result does not depend on the lane count or on threading.
 */
public final class Dropout {
    private Dropout() {}

    private static final long GOLDEN64 = 0x9E3779B97F4A7C15L;
    private static final int GOLDEN32 = 0x9E3779B9;
    private static final int M1 = 0x7feb352d, M2 = 0x846ca68b; // lowbias32 multipliers

    /**
     * mask[i] = keep(seed, i) ? 1/keepProb : 0 for i in [0, n), keepProb in (0, 1].
     *
     * <p>keep(seed, i): k = splitmix64(seed), k1/k2 its low/high halves;
     * x = lowbias32(lowbias32(i*0x9E3779B9 + k1) ^ k2); keep iff (x >>> 8) &lt; (int)(keepProb * 2^24).
     * The second round (keyed by k2) is there because with a single round two seeds would give
     * masks that are index-shifted copies of each other.
     */
    public static void mask(MemorySegment mask, long maskOff, int n, float keepProb, long seed) {
        mask(mask, maskOff, n, keepProb, seed, 0);
    }

    /**
     * The elements {@code [first, first + n)} of the mask that {@link #mask(MemorySegment, long, int, float, long)}
     * makes from {@code seed}, written from {@code maskOff}: a part of a larger mask (a data-parallel
     * rank's rows of the global batch) with the very values the whole one has there.
     */
    public static void mask(MemorySegment mask, long maskOff, int n, float keepProb, long seed, int first) {
        if (!(keepProb > 0f && keepProb <= 1f)) {
            throw new IllegalArgumentException("keepProb must be in (0, 1], got " + keepProb);
        }
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        final long k = splitmix64(seed);
        final int k1 = (int) k, k2 = (int) (k >>> 32);
        final int threshold = threshold(keepProb);
        final float inv = 1f / keepProb;

        final int L = I.length(); // == F.length(): same shape
        final int upper = I.loopBound(n);
        final FloatVector keepV = FloatVector.broadcast(F, inv);
        final FloatVector dropV = FloatVector.zero(F);
        IntVector idx = IntVector.zero(I).addIndex(1).add(first); // lanes: first+i, ..., first+i+L-1
        int i = 0;
        for (; i < upper; i += L) {
            IntVector x = idx.mul(GOLDEN32).add(k1);
            // lowbias32, then lowbias32 of that ^ k2, written here: no vector crosses a call (VectorShapes)
            for (int round = 0; round < 2; round++) {
                if (round == 1) x = x.lanewise(VectorOperators.XOR, k2);
                x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 16)).mul(M1);
                x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 15)).mul(M2);
                x = x.lanewise(VectorOperators.XOR, x.lanewise(VectorOperators.LSHR, 16));
            }
            VectorMask<Float> keep = x.lanewise(VectorOperators.LSHR, 8).compare(VectorOperators.LT, threshold).cast(F);
            dropV.blend(keepV, keep).intoMemorySegment(mask, 4 * (maskOff + i), NATIVE);
            idx = idx.add(L);
        }
        for (; i < n; i++) {
            set(mask, maskOff + i, keeps(first + i, k1, k2, threshold) ? inv : 0f);
        }
    }

    /**
     * The scale {@link #mask} gives element {@code i} for this seed and keep probability: 1/keepProb
     * when it is kept, else 0. For decisions made one at a time (a word's row, say).
     */
    public static float scale(long seed, int i, float keepProb) {
        final long k = splitmix64(seed);
        return keeps(i, (int) k, (int) (k >>> 32), threshold(keepProb)) ? 1f / keepProb : 0f;
    }

    /**
     * out = x * mask over n elements; out may be x (in place). This is also the backward:
     * dx = dOut * mask with the same mask, since the mask is a constant per element.
     */
    public static void apply(MemorySegment x, long xOff, MemorySegment mask, long maskOff,
                             MemorySegment out, long outOff, int n) {
        VectorMath.mul(out, outOff, x, xOff, mask, maskOff, n);
    }

    /**
     * Derives an independent seed for a sub-stream (layer, time step, ...): output number
     * {@code stream + 1} of a splitmix64 generator whose state starts at splitmix64(seed).
     * For one seed, distinct streams always give distinct results (mix64 is a bijection).
     */
    public static long splitSeed(long seed, long stream) {
        return mix64(splitmix64(seed) + GOLDEN64 * (stream + 1));
    }

    /** One splitmix64 step from state {@code seed}: mix64(seed + golden gamma). */
    public static long splitmix64(long seed) {
        return mix64(seed + GOLDEN64);
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** keepProb * 2^24 is exact (power-of-two scaling), so keepProb = 1 keeps all 2^24 buckets. */
    static int threshold(float keepProb) {
        return (int) (keepProb * 16777216f);
    }

    /** Scalar keep decision; the vector loop computes exactly this per lane. */
    static boolean keeps(int i, int k1, int k2, int threshold) {
        int x = lowbias32(i * GOLDEN32 + k1);
        x = lowbias32(x ^ k2);
        return (x >>> 8) < threshold;
    }

    private static int lowbias32(int x) {
        x ^= x >>> 16;
        x *= M1;
        x ^= x >>> 15;
        x *= M2;
        x ^= x >>> 16;
        return x;
    }
}
