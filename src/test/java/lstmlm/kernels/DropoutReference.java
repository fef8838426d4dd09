package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain scalar version of {@link Dropout}; must produce bit-identical masks. */
public final class DropoutReference {
    private DropoutReference() {}

    public static void mask(MemorySegment mask, long maskOff, int n, float keepProb, long seed) {
        if (!(keepProb > 0f && keepProb <= 1f)) {
            throw new IllegalArgumentException("keepProb must be in (0, 1], got " + keepProb);
        }
        long k = Dropout.splitmix64(seed);
        int k1 = (int) k, k2 = (int) (k >>> 32);
        int threshold = Dropout.threshold(keepProb);
        float inv = 1f / keepProb;
        for (int i = 0; i < n; i++) {
            set(mask, maskOff + i, Dropout.keeps(i, k1, k2, threshold) ? inv : 0f);
        }
    }

    public static void apply(MemorySegment x, long xOff, MemorySegment mask, long maskOff,
                             MemorySegment out, long outOff, int n) {
        for (int i = 0; i < n; i++) {
            set(out, outOff + i, get(x, xOff + i) * get(mask, maskOff + i));
        }
    }
}
