package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain scalar version of {@link LstmCell}: same signatures and semantics, for tests and benchmarks. */
public final class LstmCellReference {
    private LstmCellReference() {}

    public static void forward(MemorySegment z, long zOff, MemorySegment bias, long biasOff,
                               MemorySegment cPrev, long cPrevOff, MemorySegment c, long cOff,
                               MemorySegment tanhC, long tanhCOff, MemorySegment h, long hOff,
                               int rows, int hidden, float forgetBias) {
        final int H = hidden;
        for (int r = 0; r < rows; r++) {
            final long zRow = zOff + 4L * H * r;
            final long s = (long) H * r;
            for (int j = 0; j < H; j++) {
                float i = sigmoid(get(z, zRow + j) + get(bias, biasOff + j));
                float f = sigmoid(get(z, zRow + H + j) + get(bias, biasOff + H + j) + forgetBias);
                float g = (float) Math.tanh(get(z, zRow + 2 * H + j) + get(bias, biasOff + 2 * H + j));
                float o = sigmoid(get(z, zRow + 3 * H + j) + get(bias, biasOff + 3 * H + j));
                float cNew = f * get(cPrev, cPrevOff + s + j) + i * g;
                set(z, zRow + j, i);
                set(z, zRow + H + j, f);
                set(z, zRow + 2 * H + j, g);
                set(z, zRow + 3 * H + j, o);
                set(c, cOff + s + j, cNew);
                float tc = (float) Math.tanh(cNew);
                set(tanhC, tanhCOff + s + j, tc);
                set(h, hOff + s + j, o * tc);
            }
        }
    }

    public static void backward(MemorySegment z, long zOff, MemorySegment cPrev, long cPrevOff,
                                MemorySegment tanhC, long tanhCOff, MemorySegment dh, long dhOff,
                                MemorySegment dc, long dcOff, int rows, int hidden) {
        final int H = hidden;
        for (int r = 0; r < rows; r++) {
            final long zRow = zOff + 4L * H * r;
            final long s = (long) H * r;
            for (int j = 0; j < H; j++) {
                float i = get(z, zRow + j);
                float f = get(z, zRow + H + j);
                float g = get(z, zRow + 2 * H + j);
                float o = get(z, zRow + 3 * H + j);
                float tc = get(tanhC, tanhCOff + s + j);
                float dhv = get(dh, dhOff + s + j);
                float dcTot = get(dc, dcOff + s + j) + dhv * o * (1f - tc * tc);
                float dO = dhv * tc * o * (1f - o);
                float dI = dcTot * g * i * (1f - i);
                float dG = dcTot * i * (1f - g * g);
                float dF = dcTot * get(cPrev, cPrevOff + s + j) * f * (1f - f);
                set(z, zRow + j, dI);
                set(z, zRow + H + j, dF);
                set(z, zRow + 2 * H + j, dG);
                set(z, zRow + 3 * H + j, dO);
                set(dc, dcOff + s + j, dcTot * f);
            }
        }
    }

    private static float sigmoid(float x) {
        return 1f / (1f + (float) Math.exp(-x));
    }
}
