package lstmlm.kernels;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/** Plain scalar versions of {@link RowKernels} and the softmax normaliser, written straight from the definitions. */
public final class RowKernelsReference {
    private RowKernelsReference() {}

    /** y = bias + xᵀW, one FMA chain per output in row order (the kernel's exact operation order). */
    public static void vectorTimesMatrix(MemorySegment x, long xOff, int rows, MemorySegment w, long wOff, int cols,
                                         MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        for (int j = 0; j < cols; j++) {
            float acc = bias.getAtIndex(JAVA_FLOAT, biasOff + j);
            for (int k = 0; k < rows; k++) {
                acc = Math.fma(w.getAtIndex(JAVA_FLOAT, wOff + (long) k * cols + j), x.getAtIndex(JAVA_FLOAT, xOff + k), acc);
            }
            y.setAtIndex(JAVA_FLOAT, yOff + j, acc);
        }
    }

    /** y = bias + W·x in double, rounded once to float. */
    public static void matrixTimesVector(MemorySegment w, long wOff, int rows, int cols, MemorySegment x, long xOff,
                                         MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        for (int r = 0; r < rows; r++) {
            double s = bias.getAtIndex(JAVA_FLOAT, biasOff + r);
            for (int j = 0; j < cols; j++) {
                s += (double) w.getAtIndex(JAVA_FLOAT, wOff + (long) r * cols + j) * x.getAtIndex(JAVA_FLOAT, xOff + j);
            }
            y.setAtIndex(JAVA_FLOAT, yOff + r, (float) s);
        }
    }

    /** log Σ exp(x[i] + b[i]) in double. */
    public static double logSumExp(MemorySegment x, long off, MemorySegment b, long bOff, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, (double) x.getAtIndex(JAVA_FLOAT, off + i) + b.getAtIndex(JAVA_FLOAT, bOff + i));
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp((double) x.getAtIndex(JAVA_FLOAT, off + i) + b.getAtIndex(JAVA_FLOAT, bOff + i) - max);
        return max + Math.log(sum);
    }
}
