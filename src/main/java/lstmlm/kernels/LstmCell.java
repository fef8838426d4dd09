package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;
import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Pointwise part of one LSTM step (the two matmuls that produce {@code z} live elsewhere).
 *
 * <p>Layout, all offsets in float elements: {@code z: [rows x 4H]} with gate blocks
 * {@code i | f | g | o} per row, {@code bias: [4H]}, {@code cPrev, c, h, dh, dc: [rows x H]}.
 *
 * <p>The vector loops call FloatVector.fromMemorySegment/intoMemorySegment directly instead of
 * through a helper: these loops are large enough that C2 hits its node-count inlining cutoff, and
 * a vector passed through a helper that did not get inlined is boxed on the heap, while the JDK's
 * own vector methods are force-inlined past the cutoff.
 */
public final class LstmCell {
    private LstmCell() {}

    /**
     * i=σ(zi+bi), f=σ(zf+bf+forgetBias), g=tanh(zg+bg), o=σ(zo+bo); c=f*cPrev+i*g; h=o*tanh(c).
     * Overwrites z with the activated gates i,f,g,o (backward reads them). c must not alias cPrev
     * (backward needs both); h may be anywhere else.
     */
    public static void forward(MemorySegment z, long zOff, MemorySegment bias, long biasOff,
                               MemorySegment cPrev, long cPrevOff, MemorySegment c, long cOff,
                               MemorySegment h, long hOff, int rows, int hidden, float forgetBias) {
        checkShape(rows, hidden);
        final int H = hidden;
        final int upper = F.loopBound(H);
        final long gate = 4L * H; // bytes per gate block
        final FloatVector one = FloatVector.broadcast(F, 1f);
        final FloatVector fb = FloatVector.broadcast(F, forgetBias);
        final long bi = 4 * biasOff, bf = bi + gate, bg = bf + gate, bo = bg + gate;
        for (int r = 0; r < rows; r++) {
            // byte offsets of row r: gate blocks of z: [rows x 4H], then the [rows x H] states
            final long zi = 4 * (zOff + 4L * H * r), zf = zi + gate, zg = zf + gate, zo = zg + gate;
            final long s = (long) H * r;
            final long cp = 4 * (cPrevOff + s), cn = 4 * (cOff + s), hn = 4 * (hOff + s);
            for (int j = 0; j < upper; j += F.length()) {
                final long jb = 4L * j; // byte offset of column j
                FloatVector iv = FastExp.sigmoid(FloatVector.fromMemorySegment(F, z, zi + jb, NATIVE)
                        .add(FloatVector.fromMemorySegment(F, bias, bi + jb, NATIVE)));
                FloatVector fv = FastExp.sigmoid(FloatVector.fromMemorySegment(F, z, zf + jb, NATIVE)
                        .add(FloatVector.fromMemorySegment(F, bias, bf + jb, NATIVE)).add(fb));
                FloatVector gv = FastExp.tanh(FloatVector.fromMemorySegment(F, z, zg + jb, NATIVE)
                        .add(FloatVector.fromMemorySegment(F, bias, bg + jb, NATIVE)));
                FloatVector ov = FastExp.sigmoid(FloatVector.fromMemorySegment(F, z, zo + jb, NATIVE)
                        .add(FloatVector.fromMemorySegment(F, bias, bo + jb, NATIVE)));
                FloatVector cv = fv.mul(FloatVector.fromMemorySegment(F, cPrev, cp + jb, NATIVE)).add(iv.mul(gv));
                iv.intoMemorySegment(z, zi + jb, NATIVE);
                fv.intoMemorySegment(z, zf + jb, NATIVE);
                gv.intoMemorySegment(z, zg + jb, NATIVE);
                ov.intoMemorySegment(z, zo + jb, NATIVE);
                cv.intoMemorySegment(c, cn + jb, NATIVE);
                ov.mul(FastExp.tanh(cv)).intoMemorySegment(h, hn + jb, NATIVE);
            }
            forwardTail(z, zOff + 4 * s, bias, biasOff, cPrev, cPrevOff + s, c, cOff + s, h, hOff + s, H, upper,
                    forgetBias);
        }
    }

    /** Columns [from, H) of one row, scalar; offsets are the row's starts in floats. */
    private static void forwardTail(MemorySegment z, long zRow, MemorySegment bias, long biasOff,
                                    MemorySegment cPrev, long cpRow, MemorySegment c, long cRow,
                                    MemorySegment h, long hRow, int H, int from, float forgetBias) {
        for (int j = from; j < H; j++) {
            float i = FastExp.sigmoid(get(z, zRow + j) + get(bias, biasOff + j));
            float f = FastExp.sigmoid(get(z, zRow + H + j) + get(bias, biasOff + H + j) + forgetBias);
            float g = FastExp.tanh(get(z, zRow + 2 * H + j) + get(bias, biasOff + 2 * H + j));
            float o = FastExp.sigmoid(get(z, zRow + 3 * H + j) + get(bias, biasOff + 3 * H + j));
            float cNew = f * get(cPrev, cpRow + j) + i * g;
            set(z, zRow + j, i);
            set(z, zRow + H + j, f);
            set(z, zRow + 2 * H + j, g);
            set(z, zRow + 3 * H + j, o);
            set(c, cRow + j, cNew);
            set(h, hRow + j, o * FastExp.tanh(cNew));
        }
    }

    /**
     * Backward of {@link #forward}. z: activated gates in, dZ (gradient w.r.t. the pre-activations)
     * out. dh: in. dc: in = dL/dc from step t+1, out = dL/dcPrev. dBias[4H] += dZ summed over rows.
     *
     * <p>tc=tanh(c); dcTot=dc+dh*o*(1-tc²); do=dh*tc*o*(1-o); di=dcTot*g*i*(1-i);
     * dg=dcTot*i*(1-g²); df=dcTot*cPrev*f*(1-f); dcPrev=dcTot*f.
     */
    public static void backward(MemorySegment z, long zOff, MemorySegment cPrev, long cPrevOff,
                                MemorySegment c, long cOff, MemorySegment dh, long dhOff,
                                MemorySegment dc, long dcOff, MemorySegment dBias, long dBiasOff,
                                int rows, int hidden) {
        checkShape(rows, hidden);
        final int H = hidden;
        final int upper = F.loopBound(H);
        final long gate = 4L * H;
        final FloatVector one = FloatVector.broadcast(F, 1f);
        for (int r = 0; r < rows; r++) {
            final long zi = 4 * (zOff + 4L * H * r), zf = zi + gate, zg = zf + gate, zo = zg + gate;
            final long s = (long) H * r;
            final long cp = 4 * (cPrevOff + s), cn = 4 * (cOff + s), dhn = 4 * (dhOff + s), dcn = 4 * (dcOff + s);
            for (int j = 0; j < upper; j += F.length()) {
                final long jb = 4L * j; // byte offset of column j
                FloatVector iv = FloatVector.fromMemorySegment(F, z, zi + jb, NATIVE);
                FloatVector fv = FloatVector.fromMemorySegment(F, z, zf + jb, NATIVE);
                FloatVector gv = FloatVector.fromMemorySegment(F, z, zg + jb, NATIVE);
                FloatVector ov = FloatVector.fromMemorySegment(F, z, zo + jb, NATIVE);
                FloatVector tc = FastExp.tanh(FloatVector.fromMemorySegment(F, c, cn + jb, NATIVE));
                FloatVector dhv = FloatVector.fromMemorySegment(F, dh, dhn + jb, NATIVE);
                FloatVector dcTot = FloatVector.fromMemorySegment(F, dc, dcn + jb, NATIVE)
                        .add(dhv.mul(ov).mul(one.sub(tc.mul(tc))));
                dhv.mul(tc).mul(ov).mul(one.sub(ov)).intoMemorySegment(z, zo + jb, NATIVE);
                dcTot.mul(gv).mul(iv).mul(one.sub(iv)).intoMemorySegment(z, zi + jb, NATIVE);
                dcTot.mul(iv).mul(one.sub(gv.mul(gv))).intoMemorySegment(z, zg + jb, NATIVE);
                dcTot.mul(FloatVector.fromMemorySegment(F, cPrev, cp + jb, NATIVE)).mul(fv).mul(one.sub(fv))
                        .intoMemorySegment(z, zf + jb, NATIVE);
                dcTot.mul(fv).intoMemorySegment(dc, dcn + jb, NATIVE);
            }
            backwardTail(z, zOff + 4 * s, cPrev, cPrevOff + s, c, cOff + s, dh, dhOff + s, dc, dcOff + s, H, upper);
            // dBias += dZ row, a separate pass while the row is still in L1: keeps the loop above
            // small enough for C2 to compile without boxing
            VectorMath.add(dBias, dBiasOff, z, zOff + 4 * s, 4L * H);
        }
    }

    private static void backwardTail(MemorySegment z, long zRow, MemorySegment cPrev, long cpRow,
                                     MemorySegment c, long cRow, MemorySegment dh, long dhRow,
                                     MemorySegment dc, long dcRow, int H, int from) {
        for (int j = from; j < H; j++) {
            float i = get(z, zRow + j), f = get(z, zRow + H + j);
            float g = get(z, zRow + 2 * H + j), o = get(z, zRow + 3 * H + j);
            float tc = FastExp.tanh(get(c, cRow + j));
            float dhv = get(dh, dhRow + j);
            float dcTot = get(dc, dcRow + j) + dhv * o * (1f - tc * tc);
            set(z, zRow + j, dcTot * g * i * (1f - i));
            set(z, zRow + H + j, dcTot * get(cPrev, cpRow + j) * f * (1f - f));
            set(z, zRow + 2 * H + j, dcTot * i * (1f - g * g));
            set(z, zRow + 3 * H + j, dhv * tc * o * (1f - o));
            set(dc, dcRow + j, dcTot * f);
        }
    }

    private static void checkShape(int rows, int hidden) {
        if (rows < 0 || hidden < 0) {
            throw new IllegalArgumentException("need rows >= 0 and hidden >= 0, got " + rows + ", " + hidden);
        }
    }
}
