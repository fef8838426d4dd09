package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;
import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;

/**
 * Pointwise part of one LSTM step (the two matmuls that produce {@code z} live elsewhere).
 *
 * <p>Layout, all offsets in float elements: {@code z: [rows x 4H]} with gate blocks
 * {@code i | f | g | o} per row, {@code bias: [4H]}, {@code cPrev, c, tanhC, h, dh, dc: [rows x H]}.
 *
 * <p>Each row is a few passes over L1-resident data: {@link FastExp#expSum} turns the gate
 * pre-activations into exponentials in place (σ(x) = 1/(1+e^−x), tanh(x) = 1 − 2/(e^2x+1)), one
 * vector pass finishes the gates and c, another exp pass and a last pass give tanh(c) and h. The
 * exponential lives in one memory-to-memory loop, so no vector crosses a call (a vector passed to
 * a method C2 does not inline is boxed on the heap).
 */
public final class LstmCell {
    private LstmCell() {}

    /**
     * i=σ(zi+bi), f=σ(zf+bf+forgetBias), g=tanh(zg+bg), o=σ(zo+bo); c=f*cPrev+i*g; h=o*tanh(c).
     * Overwrites z with the activated gates i,f,g,o and writes tanh(c) to {@code tanhC}: backward
     * reads both. c must not alias cPrev.
     */
    public static void forward(MemorySegment z, long zOff, MemorySegment bias, long biasOff,
                               MemorySegment cPrev, long cPrevOff, MemorySegment c, long cOff,
                               MemorySegment tanhC, long tanhCOff, MemorySegment h, long hOff,
                               int rows, int hidden, float forgetBias) {
        checkShape(rows, hidden);
        final int H = hidden;
        final int upper = F.loopBound(H);
        final FloatVector one = FloatVector.broadcast(F, 1f), two = FloatVector.broadcast(F, 2f);
        for (int r = 0; r < rows; r++) {
            final long zi = zOff + 4L * H * r, zf = zi + H, zg = zf + H, zo = zg + H; // gate starts, floats
            final long s = (long) H * r;
            final long cp = cPrevOff + s, cn = cOff + s, tc = tanhCOff + s, hn = hOff + s;
            // e^-(zi+bi), e^-(zf+bf+forgetBias), e^2(zg+bg), e^-(zo+bo), in place
            FastExp.expSum(-1f, z, zi, bias, biasOff, 0f, z, zi, H);
            FastExp.expSum(-1f, z, zf, bias, biasOff + H, forgetBias, z, zf, H);
            FastExp.expSum(2f, z, zg, bias, biasOff + 2L * H, 0f, z, zg, H);
            FastExp.expSum(-1f, z, zo, bias, biasOff + 3L * H, 0f, z, zo, H);
            int j = 0;
            for (; j < upper; j += F.length()) {
                FloatVector iv = one.div(FloatVector.fromMemorySegment(F, z, 4 * (zi + j), NATIVE).add(one));
                FloatVector fv = one.div(FloatVector.fromMemorySegment(F, z, 4 * (zf + j), NATIVE).add(one));
                FloatVector gv = one.sub(two.div(FloatVector.fromMemorySegment(F, z, 4 * (zg + j), NATIVE).add(one)));
                FloatVector ov = one.div(FloatVector.fromMemorySegment(F, z, 4 * (zo + j), NATIVE).add(one));
                FloatVector cv = fv.mul(FloatVector.fromMemorySegment(F, cPrev, 4 * (cp + j), NATIVE)).add(iv.mul(gv));
                iv.intoMemorySegment(z, 4 * (zi + j), NATIVE);
                fv.intoMemorySegment(z, 4 * (zf + j), NATIVE);
                gv.intoMemorySegment(z, 4 * (zg + j), NATIVE);
                ov.intoMemorySegment(z, 4 * (zo + j), NATIVE);
                cv.intoMemorySegment(c, 4 * (cn + j), NATIVE);
            }
            for (; j < H; j++) {
                float i = 1f / (get(z, zi + j) + 1f), f = 1f / (get(z, zf + j) + 1f);
                float g = 1f - 2f / (get(z, zg + j) + 1f), o = 1f / (get(z, zo + j) + 1f);
                set(z, zi + j, i);
                set(z, zf + j, f);
                set(z, zg + j, g);
                set(z, zo + j, o);
                set(c, cn + j, f * get(cPrev, cp + j) + i * g);
            }
            // tanh(c) = 1 - 2/(e^2c + 1); h = o * tanh(c)
            FastExp.expSum(1f, c, cn, c, cn, 0f, tanhC, tc, H); // e^(c + c)
            j = 0;
            for (; j < upper; j += F.length()) {
                FloatVector t = one.sub(two.div(FloatVector.fromMemorySegment(F, tanhC, 4 * (tc + j), NATIVE).add(one)));
                t.intoMemorySegment(tanhC, 4 * (tc + j), NATIVE);
                FloatVector.fromMemorySegment(F, z, 4 * (zo + j), NATIVE).mul(t).intoMemorySegment(h, 4 * (hn + j), NATIVE);
            }
            for (; j < H; j++) {
                float t = 1f - 2f / (get(tanhC, tc + j) + 1f);
                set(tanhC, tc + j, t);
                set(h, hn + j, get(z, zo + j) * t);
            }
        }
    }

    /**
     * Backward of {@link #forward}. z: activated gates in, dZ (gradient w.r.t. the pre-activations)
     * out. tanhC: tanh(c) from forward. dh: in. dc: in = dL/dc from step t+1, out = dL/dcPrev.
     * The bias gradient is dZ summed over rows; the caller sums it (once per window, not per step).
     *
     * <p>tc=tanh(c); dcTot=dc+dh*o*(1-tc²); do=dh*tc*o*(1-o); di=dcTot*g*i*(1-i);
     * dg=dcTot*i*(1-g²); df=dcTot*cPrev*f*(1-f); dcPrev=dcTot*f.
     */
    public static void backward(MemorySegment z, long zOff, MemorySegment cPrev, long cPrevOff,
                                MemorySegment tanhC, long tanhCOff, MemorySegment dh, long dhOff,
                                MemorySegment dc, long dcOff, int rows, int hidden) {
        checkShape(rows, hidden);
        final int H = hidden;
        final int upper = F.loopBound(H);
        final FloatVector one = FloatVector.broadcast(F, 1f);
        for (int r = 0; r < rows; r++) {
            final long zi = zOff + 4L * H * r, zf = zi + H, zg = zf + H, zo = zg + H;
            final long s = (long) H * r;
            final long cp = cPrevOff + s, tcn = tanhCOff + s, dhn = dhOff + s, dcn = dcOff + s;
            int j = 0;
            for (; j < upper; j += F.length()) {
                FloatVector iv = FloatVector.fromMemorySegment(F, z, 4 * (zi + j), NATIVE);
                FloatVector fv = FloatVector.fromMemorySegment(F, z, 4 * (zf + j), NATIVE);
                FloatVector gv = FloatVector.fromMemorySegment(F, z, 4 * (zg + j), NATIVE);
                FloatVector ov = FloatVector.fromMemorySegment(F, z, 4 * (zo + j), NATIVE);
                FloatVector tc = FloatVector.fromMemorySegment(F, tanhC, 4 * (tcn + j), NATIVE);
                FloatVector dhv = FloatVector.fromMemorySegment(F, dh, 4 * (dhn + j), NATIVE);
                FloatVector dcTot = FloatVector.fromMemorySegment(F, dc, 4 * (dcn + j), NATIVE)
                        .add(dhv.mul(ov).mul(one.sub(tc.mul(tc))));
                dhv.mul(tc).mul(ov).mul(one.sub(ov)).intoMemorySegment(z, 4 * (zo + j), NATIVE);
                dcTot.mul(gv).mul(iv).mul(one.sub(iv)).intoMemorySegment(z, 4 * (zi + j), NATIVE);
                dcTot.mul(iv).mul(one.sub(gv.mul(gv))).intoMemorySegment(z, 4 * (zg + j), NATIVE);
                dcTot.mul(FloatVector.fromMemorySegment(F, cPrev, 4 * (cp + j), NATIVE)).mul(fv).mul(one.sub(fv))
                        .intoMemorySegment(z, 4 * (zf + j), NATIVE);
                dcTot.mul(fv).intoMemorySegment(dc, 4 * (dcn + j), NATIVE);
            }
            for (; j < H; j++) {
                float i = get(z, zi + j), f = get(z, zf + j), g = get(z, zg + j), o = get(z, zo + j);
                float tc = get(tanhC, tcn + j);
                float dhv = get(dh, dhn + j);
                float dcTot = get(dc, dcn + j) + dhv * o * (1f - tc * tc);
                set(z, zi + j, dcTot * g * i * (1f - i));
                set(z, zf + j, dcTot * get(cPrev, cp + j) * f * (1f - f));
                set(z, zg + j, dcTot * i * (1f - g * g));
                set(z, zo + j, dhv * tc * o * (1f - o));
                set(dc, dcn + j, dcTot * f);
            }
        }
    }

    private static void checkShape(int rows, int hidden) {
        if (rows < 0 || hidden < 0) {
            throw new IllegalArgumentException("need rows >= 0 and hidden >= 0, got " + rows + ", " + hidden);
        }
    }
}
