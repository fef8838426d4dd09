package lstmlm.infer;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.FLOAT;
import static lstmlm.kernels.VectorShapes.NATIVE;

import lstmlm.kernels.VectorMath;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * One-row kernels for streaming inference: a single input vector against a weight matrix that is
 * read once per token, so these are memory-bound and shaped to stream the weights in address order.
 * Offsets and lengths are in float elements. {@link RowKernelsReference} holds the scalar yardsticks.
 *
 * <p>Every result is bit-identical however the JVM runs the code (interpreter, C1, C2): only IEEE
 * operations that are exactly rounded (add, mul, div, fma, max) are used, exp is our own polynomial
 * instead of VectorOperators.EXP (whose interpreted fallback and compiled SVML stub differ in the last
 * bit), and lane sums run in lane order instead of reduceLanes(ADD) (a tree when compiled). So a
 * session gives the same bits on a cold thread as on a warm one.
 */
public final class RowKernels {
    private RowKernels() {}

    /** Rows of W consumed per pass: four weight streams in flight, y loaded and stored once per four rows. */
    private static final int ROW_BLOCK = 4;

    /**
     * y[0..cols) = bias + Σ_k x[k]·W[k, 0..cols) for row-major W [rows × cols] (the layout the trainer
     * stores: input rows of a vector-times-matrix); pass a zero-filled bias for none. Each y[j] is one
     * FMA chain over k in increasing order, so the result is bit-identical to
     * {@link RowKernelsReference#vectorTimesMatrix} whatever the vector width.
     *
     * <p>W is walked row after row, each row contiguous: the same order a plain streaming read takes.
     */
    public static void vectorTimesMatrix(MemorySegment x, long xOff, int rows, MemorySegment w, long wOff, int cols,
                                         MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        MemorySegment.copy(bias, biasOff * 4, y, yOff * 4, (long) cols * 4);
        // Small methods on purpose: one big method with both loops and tails ran out of C1 registers
        // ("COMPILE SKIPPED: out of virtual registers"), never reached C2 and boxed every vector.
        int k = 0;
        for (; k + ROW_BLOCK <= rows; k += ROW_BLOCK) {
            addFourRows(x.getAtIndex(FLOAT, xOff + k), x.getAtIndex(FLOAT, xOff + k + 1),
                    x.getAtIndex(FLOAT, xOff + k + 2), x.getAtIndex(FLOAT, xOff + k + 3),
                    w, (wOff + (long) k * cols) * 4, cols, y, yOff * 4);
        }
        for (; k < rows; k++) { // leftover rows, one at a time
            addOneRow(x.getAtIndex(FLOAT, xOff + k), w, (wOff + (long) k * cols) * 4, cols, y, yOff * 4);
        }
    }

    /** y = fma(W[k+3], x3, fma(W[k+2], x2, fma(W[k+1], x1, fma(W[k], x0, y)))); byte offsets; rows contiguous. */
    private static void addFourRows(float x0, float x1, float x2, float x3, MemorySegment w, long r0, int cols,
                                    MemorySegment y, long yb) {
        final FloatVector v0 = FloatVector.broadcast(F, x0), v1 = FloatVector.broadcast(F, x1);
        final FloatVector v2 = FloatVector.broadcast(F, x2), v3 = FloatVector.broadcast(F, x3);
        final long rowBytes = (long) cols * 4, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        final int upper = F.loopBound(cols);
        int j = 0;
        for (; j < upper; j += F.length()) {
            final long jb = 4L * j;
            FloatVector acc = FloatVector.fromMemorySegment(F, y, yb + jb, NATIVE);
            acc = FloatVector.fromMemorySegment(F, w, r0 + jb, NATIVE).fma(v0, acc);
            acc = FloatVector.fromMemorySegment(F, w, r1 + jb, NATIVE).fma(v1, acc);
            acc = FloatVector.fromMemorySegment(F, w, r2 + jb, NATIVE).fma(v2, acc);
            acc = FloatVector.fromMemorySegment(F, w, r3 + jb, NATIVE).fma(v3, acc);
            acc.intoMemorySegment(y, yb + jb, NATIVE);
        }
        for (; j < cols; j++) {
            final long jb = 4L * j;
            float acc = y.get(FLOAT, yb + jb);
            acc = Math.fma(w.get(FLOAT, r0 + jb), x0, acc);
            acc = Math.fma(w.get(FLOAT, r1 + jb), x1, acc);
            acc = Math.fma(w.get(FLOAT, r2 + jb), x2, acc);
            acc = Math.fma(w.get(FLOAT, r3 + jb), x3, acc);
            y.set(FLOAT, yb + jb, acc);
        }
    }

    /** y = fma(W[k], xk, y); byte offsets. */
    private static void addOneRow(float xk, MemorySegment w, long r0, int cols, MemorySegment y, long yb) {
        final FloatVector vk = FloatVector.broadcast(F, xk);
        final int upper = F.loopBound(cols);
        int j = 0;
        for (; j < upper; j += F.length()) {
            final long jb = 4L * j;
            FloatVector.fromMemorySegment(F, w, r0 + jb, NATIVE)
                    .fma(vk, FloatVector.fromMemorySegment(F, y, yb + jb, NATIVE))
                    .intoMemorySegment(y, yb + jb, NATIVE);
        }
        for (; j < cols; j++) {
            final long jb = 4L * j;
            y.set(FLOAT, yb + jb, Math.fma(w.get(FLOAT, r0 + jb), xk, y.get(FLOAT, yb + jb)));
        }
    }

    /**
     * y[r] = bias[r] + dot(W[r, 0..cols), x) for row-major W [rows × cols]: the transposed layout, where
     * each output is one contiguous dot product. Four rows at a time share the loads of x, in four
     * independent accumulators, each reduced once after the loop. {@code laneScratch}: ≥ 4 × lanes floats.
     */
    public static void matrixTimesVector(MemorySegment w, long wOff, int rows, int cols, MemorySegment x, long xOff,
                                         MemorySegment bias, long biasOff, MemorySegment y, long yOff,
                                         float[] laneScratch) {
        final int L = F.length();
        final int upper = F.loopBound(cols);
        final long xb = xOff * 4;
        final long rowBytes = (long) cols * 4;
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            final long w0 = (wOff + (long) r * cols) * 4, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < upper; j += L) {
                final long jb = 4L * j;
                FloatVector xv = FloatVector.fromMemorySegment(F, x, xb + jb, NATIVE);
                a0 = FloatVector.fromMemorySegment(F, w, w0 + jb, NATIVE).fma(xv, a0);
                a1 = FloatVector.fromMemorySegment(F, w, w1 + jb, NATIVE).fma(xv, a1);
                a2 = FloatVector.fromMemorySegment(F, w, w2 + jb, NATIVE).fma(xv, a2);
                a3 = FloatVector.fromMemorySegment(F, w, w3 + jb, NATIVE).fma(xv, a3);
            }
            // lane sums in lane order, from memory (see the class comment)
            a0.intoArray(laneScratch, 0);
            a1.intoArray(laneScratch, L);
            a2.intoArray(laneScratch, 2 * L);
            a3.intoArray(laneScratch, 3 * L);
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int lane = 0; lane < L; lane++) {
                s0 += laneScratch[lane];
                s1 += laneScratch[L + lane];
                s2 += laneScratch[2 * L + lane];
                s3 += laneScratch[3 * L + lane];
            }
            for (int j = upper; j < cols; j++) {
                long jb = 4L * j;
                float xj = x.get(FLOAT, xb + jb);
                s0 = Math.fma(w.get(FLOAT, w0 + jb), xj, s0);
                s1 = Math.fma(w.get(FLOAT, w1 + jb), xj, s1);
                s2 = Math.fma(w.get(FLOAT, w2 + jb), xj, s2);
                s3 = Math.fma(w.get(FLOAT, w3 + jb), xj, s3);
            }
            y.setAtIndex(FLOAT, yOff + r, s0 + bias.getAtIndex(FLOAT, biasOff + r));
            y.setAtIndex(FLOAT, yOff + r + 1, s1 + bias.getAtIndex(FLOAT, biasOff + r + 1));
            y.setAtIndex(FLOAT, yOff + r + 2, s2 + bias.getAtIndex(FLOAT, biasOff + r + 2));
            y.setAtIndex(FLOAT, yOff + r + 3, s3 + bias.getAtIndex(FLOAT, biasOff + r + 3));
        }
        for (; r < rows; r++) {
            final long w0 = (wOff + (long) r * cols) * 4;
            FloatVector a0 = FloatVector.zero(F);
            for (int j = 0; j < upper; j += L) {
                final long jb = 4L * j;
                a0 = FloatVector.fromMemorySegment(F, w, w0 + jb, NATIVE)
                        .fma(FloatVector.fromMemorySegment(F, x, xb + jb, NATIVE), a0);
            }
            a0.intoArray(laneScratch, 0);
            float s0 = 0f;
            for (int lane = 0; lane < L; lane++) s0 += laneScratch[lane];
            for (int j = upper; j < cols; j++) {
                s0 = Math.fma(w.get(FLOAT, w0 + 4L * j), x.get(FLOAT, xb + 4L * j), s0);
            }
            y.setAtIndex(FLOAT, yOff + r, s0 + bias.getAtIndex(FLOAT, biasOff + r));
        }
    }

    /** max of x[0..n); n ≥ 1. */
    public static float max(MemorySegment x, long off, int n) {
        final int upper = F.loopBound(n);
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < upper; i += F.length()) {
            m = m.max(FloatVector.fromMemorySegment(F, x, (off + i) * 4, NATIVE));
        }
        float result = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) result = Math.max(result, x.getAtIndex(FLOAT, off + i));
        return result;
    }

    /**
     * log Σ exp(x[i]) over [0..n), shifted by the maximum so nothing overflows. {@code scratch} (≥ n
     * floats) receives the shifted exponentials: summing them from memory keeps the exp polynomial
     * in one loop ({@link #expInto}) instead of a helper that passes vectors.
     */
    public static float logSumExp(MemorySegment x, long off, int n, float[] scratch) {
        final float max = max(x, off, n);
        expInto(x, off, n, max, 1f, scratch);
        final int upper = F.loopBound(n);
        FloatVector s = FloatVector.zero(F);
        int i = 0;
        for (; i < upper; i += F.length()) s = s.add(FloatVector.fromArray(F, scratch, i));
        // lanes summed in lane order: reduceLanes(ADD) compiles to a tree, its fallback to a loop
        float sum = 0f;
        for (int lane = 0; lane < F.length(); lane++) sum += s.lane(lane);
        for (; i < n; i++) sum += scratch[i];
        return max + (float) StrictMath.log(sum);
    }

    // exp(x) = 2^k · e^r with k = round(x / ln 2), r = x − k·ln 2 in [−ln2/2, ln2/2] (ln 2 split in two
    // so k·LN2_HI is exact), e^r by its degree-6 Taylor polynomial: relative error about 2e-7. x is
    // clamped to where 2^k is a normal float; below, the result is 2^-126·e^r ≈ 1e-38 instead of 0.
    // The polynomial is written out inside each loop that needs it: a helper taking a FloatVector
    // that C2 declines to inline (it does, once the helper is compiled big) boxes every vector.
    private static final float LOG2E = 1.44269504f, LN2_HI = 0.693145752f, LN2_LO = 1.42860677e-6f;
    private static final float EXP_MIN = -87.0f, EXP_MAX = 88.0f, ROUND_MAGIC = 12582912f; // 1.5·2^23
    private static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720;

    /** out[i] = exp((x[i] − shift) · scale) for i in [0..n). */
    public static void expInto(MemorySegment x, long off, int n, float shift, float scale, float[] out) {
        final int upper = F.loopBound(n);
        final FloatVector vShift = FloatVector.broadcast(F, shift), vScale = FloatVector.broadcast(F, scale);
        final FloatVector c2 = FloatVector.broadcast(F, C2), c3 = FloatVector.broadcast(F, C3);
        final FloatVector c4 = FloatVector.broadcast(F, C4), one = FloatVector.broadcast(F, 1f);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, x, (off + i) * 4, NATIVE).sub(vShift).mul(vScale)
                    .max(EXP_MIN).min(EXP_MAX);
            // adding 1.5·2^23 rounds to an integer in the low mantissa bits (round to nearest even)
            FloatVector k = v.mul(LOG2E).add(ROUND_MAGIC).sub(ROUND_MAGIC);
            FloatVector r = k.mul(-LN2_HI).add(v);
            r = k.mul(-LN2_LO).add(r);
            FloatVector p = r.fma(C6, C5).fma(r, c4).fma(r, c3).fma(r, c2).fma(r, one).fma(r, one);
            p.mul(k.convert(VectorOperators.F2I, 0).reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats()).intoArray(out, i);
        }
        for (; i < n; i++) out[i] = exp((x.getAtIndex(FLOAT, off + i) - shift) * scale);
    }

    /** exp(x), scalar, with the same operations as the vector loops, so it matches them lane for lane. */
    static float exp(float x) {
        x = Math.min(Math.max(x, EXP_MIN), EXP_MAX);
        float k = (x * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
        float r = k * -LN2_HI + x;
        r = k * -LN2_LO + r;
        float p = Math.fma(r, C6, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat(((int) k + 127) << 23);
    }

    /**
     * dst[i] = a / (1 + exp(−b·src[i])) + c over [0..n): σ with (1, 1, 0), tanh = 2σ(2x) − 1 with
     * (2, 2, −1). src and dst may be the same memory.
     */
    static void squash(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n, float a, float b, float c) {
        final int upper = F.loopBound(n);
        final FloatVector va = FloatVector.broadcast(F, a), vc = FloatVector.broadcast(F, c);
        final FloatVector c2 = FloatVector.broadcast(F, C2), c3 = FloatVector.broadcast(F, C3);
        final FloatVector c4 = FloatVector.broadcast(F, C4), one = FloatVector.broadcast(F, 1f);
        final float negB = -b;
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, src, (srcOff + i) * 4, NATIVE).mul(negB)
                    .max(EXP_MIN).min(EXP_MAX);
            FloatVector k = v.mul(LOG2E).add(ROUND_MAGIC).sub(ROUND_MAGIC);
            FloatVector r = k.mul(-LN2_HI).add(v);
            r = k.mul(-LN2_LO).add(r);
            FloatVector p = r.fma(C6, C5).fma(r, c4).fma(r, c3).fma(r, c2).fma(r, one).fma(r, one);
            FloatVector e = p.mul(k.convert(VectorOperators.F2I, 0).reinterpretAsInts().add(127)
                    .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            va.div(e.add(one)).add(vc).intoMemorySegment(dst, (dstOff + i) * 4, NATIVE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(FLOAT, dstOff + i, a / (exp(src.getAtIndex(FLOAT, srcOff + i) * negB) + 1f) + c);
        }
    }

    static float sigmoid(float x) {
        return 1f / (exp(x * -1f) + 1f);
    }

    static float tanh(float x) {
        return 2f / (exp(x * -2f) + 1f) + -1f;
    }

    /**
     * One row of the LSTM cell, as {@link lstmlm.kernels.LstmCell#forward} with rows = 1 and forget bias
     * 0: i=σ(zi+bi), f=σ(zf+bf), g=tanh(zg+bg), o=σ(zo+bo); c=f·cPrev+i·g; h=o·tanh(c). Overwrites z
     * with the activated gates. A few short passes over L1-resident data, with the tier-independent
     * exp; the fused training kernel called on one row was measured boxing its vectors (42 KB per
     * call at H=200). c must not alias cPrev; h must not overlap z or c.
     */
    public static void lstmCell(MemorySegment z, long zOff, MemorySegment bias, MemorySegment cPrev, long cPrevOff,
                                MemorySegment c, long cOff, MemorySegment h, long hOff, int hidden) {
        final int H = hidden;
        VectorMath.add(z, zOff, bias, 0, 4L * H);
        squash(z, zOff, z, zOff, 2 * H, 1f, 1f, 0f);                     // i, f
        squash(z, zOff + 2L * H, z, zOff + 2L * H, H, 2f, 2f, -1f);      // g
        squash(z, zOff + 3L * H, z, zOff + 3L * H, H, 1f, 1f, 0f);       // o
        VectorMath.mul(c, cOff, z, zOff + H, cPrev, cPrevOff, H);        // c = f·cPrev
        VectorMath.mul(h, hOff, z, zOff, z, zOff + 2L * H, H);           // h = i·g, for now
        VectorMath.add(c, cOff, h, hOff, H);                             // c += i·g
        squash(c, cOff, h, hOff, H, 2f, 2f, -1f);                        // h = tanh(c)
        VectorMath.mul(h, hOff, h, hOff, z, zOff + 3L * H, H);           // h *= o
    }

    /**
     * Σ x[i] over [0..bytes/4): a plain streaming read with four independent accumulators, the
     * yardstick for how fast one thread can pull weights through the memory system.
     */
    public static float streamSum(MemorySegment x, long bytes) {
        final int L = F.length();
        final long n = bytes / 4;
        final long upper4 = n - n % (4L * L);
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        long i = 0;
        for (; i < upper4; i += 4L * L) {
            final long b = i * 4;
            s0 = s0.add(FloatVector.fromMemorySegment(F, x, b, NATIVE));
            s1 = s1.add(FloatVector.fromMemorySegment(F, x, b + 4L * L, NATIVE));
            s2 = s2.add(FloatVector.fromMemorySegment(F, x, b + 8L * L, NATIVE));
            s3 = s3.add(FloatVector.fromMemorySegment(F, x, b + 12L * L, NATIVE));
        }
        float sum = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += x.getAtIndex(FLOAT, i);
        return sum;
    }
}
