package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain scalar version of {@link SoftmaxCrossEntropy}: same signatures and semantics. */
public final class SoftmaxCrossEntropyReference {
    private SoftmaxCrossEntropyReference() {}

    public static double forwardBackward(MemorySegment logits, long logitsOff, MemorySegment bias, long biasOff,
                                         int[] targets, int targetsOff, int rowStart, int rowEnd, int vocab,
                                         float gradScale, MemorySegment dBias, long dBiasOff) {
        SoftmaxCrossEntropy.checkArgs(targets, targetsOff, rowStart, rowEnd, vocab);
        double loss = 0;
        for (int r = rowStart; r < rowEnd; r++) {
            long row = logitsOff + (long) r * vocab;
            int t = targets[targetsOff + r];
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                max = Math.max(max, get(logits, row + j) + get(bias, biasOff + j));
            }
            float zt = get(logits, row + t) + get(bias, biasOff + t);
            // the reference sums in double: it is the yardstick for the kernel's float lane sums
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                float e = (float) Math.exp(get(logits, row + j) + get(bias, biasOff + j) - max);
                set(logits, row + j, e);
                sum += e;
            }
            loss += Math.log(sum) - ((double) zt - max);
            float sumF = (float) sum;
            for (int j = 0; j < vocab; j++) {
                float p = get(logits, row + j) / sumF;
                float g = gradScale * (p - (j == t ? 1f : 0f));
                set(logits, row + j, g);
                set(dBias, dBiasOff + j, get(dBias, dBiasOff + j) + g);
            }
        }
        return loss;
    }

    public static double forward(MemorySegment logits, long logitsOff, MemorySegment bias, long biasOff,
                                 int[] targets, int targetsOff, int rowStart, int rowEnd, int vocab) {
        SoftmaxCrossEntropy.checkArgs(targets, targetsOff, rowStart, rowEnd, vocab);
        double loss = 0;
        for (int r = rowStart; r < rowEnd; r++) {
            long row = logitsOff + (long) r * vocab;
            int t = targets[targetsOff + r];
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                max = Math.max(max, get(logits, row + j) + get(bias, biasOff + j));
            }
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                sum += (float) Math.exp(get(logits, row + j) + get(bias, biasOff + j) - max);
            }
            float zt = get(logits, row + t) + get(bias, biasOff + t);
            loss += Math.log(sum) - ((double) zt - max);
        }
        return loss;
    }
}
