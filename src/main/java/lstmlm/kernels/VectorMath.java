package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;
import static lstmlm.kernels.VectorShapes.bytes;
import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Level-1 helpers over [off, off+n) of native float segments (offsets and n in float elements).
 * Lengths are {@code long} because callers run them over whole parameter blocks. Everything except
 * {@link #sumOfSquares} does exactly the float operations of {@link VectorMathReference}, in the same
 * order per element, so results are bit-identical to it.
 */
public final class VectorMath {
    private VectorMath() {}

    /**
     * Floats per chunk in {@link #sumOfSquares}: each of the 4*L lane sums adds only 4096/(4L) terms in
     * float (64 with AVX-512), so rounding stays near 1e-7 relative however long the input is, while
     * summing all n terms into float lanes would lose ~n*2^-24; chunk totals go into a double.
     */
    static final int SUMSQ_CHUNK = 4096;

    /** sum of x[i]^2. */
    public static double sumOfSquares(MemorySegment seg, long off, long n) {
        double total = 0;
        for (long base = 0; base < n; base += SUMSQ_CHUNK) {
            total += chunkSumOfSquares(seg, off + base, (int) Math.min(SUMSQ_CHUNK, n - base));
        }
        return total;
    }

    private static float chunkSumOfSquares(MemorySegment seg, long off, int n) {
        final int L = F.length();
        final int upper4 = n - n % (4 * L);
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i < upper4; i += 4 * L) { // four chains hide the FMA latency
            final long b = 4 * (off + i);
            FloatVector v0 = FloatVector.fromMemorySegment(F, seg, b, NATIVE);
            FloatVector v1 = FloatVector.fromMemorySegment(F, seg, b + 4L * L, NATIVE);
            FloatVector v2 = FloatVector.fromMemorySegment(F, seg, b + 8L * L, NATIVE);
            FloatVector v3 = FloatVector.fromMemorySegment(F, seg, b + 12L * L, NATIVE);
            s0 = v0.fma(v0, s0);
            s1 = v1.fma(v1, s1);
            s2 = v2.fma(v2, s2);
            s3 = v3.fma(v3, s3);
        }
        for (final int upper = F.loopBound(n); i < upper; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(F, seg, 4 * (off + i), NATIVE);
            s0 = v.fma(v, s0);
        }
        s0 = s0.add(s1).add(s2.add(s3));
        for (var fold : VectorShapes.FOLDS) s0 = s0.add(s0.rearrange(fold));
        float s = s0.lane(0);
        for (; i < n; i++) {
            float v = get(seg, off + i);
            s += v * v;
        }
        return s;
    }

    /** y += a*x. */
    public static void axpy(float a, MemorySegment x, long xOff, MemorySegment y, long yOff, long n) {
        final FloatVector va = FloatVector.broadcast(F, a);
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromMemorySegment(F, x, 4 * (xOff + i), NATIVE);
            FloatVector yv = FloatVector.fromMemorySegment(F, y, 4 * (yOff + i), NATIVE);
            yv.add(xv.mul(va)).intoMemorySegment(y, 4 * (yOff + i), NATIVE);
        }
        for (; i < n; i++) {
            set(y, yOff + i, get(y, yOff + i) + a * get(x, xOff + i));
        }
    }

    /** x += a (the adaptive softmax moves a cluster's log-softmax by its head log-probability). */
    public static void addScalar(MemorySegment seg, long off, long n, float a) {
        final FloatVector va = FloatVector.broadcast(F, a);
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, seg, 4 * (off + i), NATIVE);
            v.add(va).intoMemorySegment(seg, 4 * (off + i), NATIVE);
        }
        for (; i < n; i++) {
            set(seg, off + i, get(seg, off + i) + a);
        }
    }

    /** x *= a. */
    public static void scale(MemorySegment seg, long off, long n, float a) {
        final FloatVector va = FloatVector.broadcast(F, a);
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, seg, 4 * (off + i), NATIVE);
            v.mul(va).intoMemorySegment(seg, 4 * (off + i), NATIVE);
        }
        for (; i < n; i++) {
            set(seg, off + i, get(seg, off + i) * a);
        }
    }

    /** dst += src. */
    /** dst[i] = a · src[off + i] for i in [0, n): from native memory into a heap array. */
    public static void scaleInto(MemorySegment src, long off, int n, float a, float[] dst) {
        final FloatVector va = FloatVector.broadcast(F, a);
        final int upper = F.loopBound(n);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector.fromMemorySegment(F, src, 4 * (off + i), NATIVE).mul(va).intoArray(dst, i);
        }
        for (; i < n; i++) dst[i] = get(src, off + i) * a;
    }

    public static void add(MemorySegment dst, long dstOff, MemorySegment src, long srcOff, long n) {
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector d = FloatVector.fromMemorySegment(F, dst, 4 * (dstOff + i), NATIVE);
            FloatVector s = FloatVector.fromMemorySegment(F, src, 4 * (srcOff + i), NATIVE);
            d.add(s).intoMemorySegment(dst, 4 * (dstOff + i), NATIVE);
        }
        for (; i < n; i++) {
            set(dst, dstOff + i, get(dst, dstOff + i) + get(src, srcOff + i));
        }
    }

    /** dst = a*b; dst may be a or b at the same offset. */
    public static void mul(MemorySegment dst, long dstOff, MemorySegment a, long aOff, MemorySegment b, long bOff,
                           long n) {
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector av = FloatVector.fromMemorySegment(F, a, 4 * (aOff + i), NATIVE);
            FloatVector bv = FloatVector.fromMemorySegment(F, b, 4 * (bOff + i), NATIVE);
            av.mul(bv).intoMemorySegment(dst, 4 * (dstOff + i), NATIVE);
        }
        for (; i < n; i++) {
            set(dst, dstOff + i, get(a, aOff + i) * get(b, bOff + i));
        }
    }

    /** x = v. */
    public static void fill(MemorySegment seg, long off, long n, float v) {
        final FloatVector vv = FloatVector.broadcast(F, v);
        final long upper = F.loopBound(n);
        long i = 0;
        for (; i < upper; i += F.length()) {
            vv.intoMemorySegment(seg, 4 * (off + i), NATIVE);
        }
        for (; i < n; i++) {
            set(seg, off + i, v);
        }
    }

    /** dst = src; overlapping ranges are handled like memmove. */
    public static void copy(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
        MemorySegment.copy(src, bytes(srcOff), dst, bytes(dstOff), bytes(n));
    }

    /** Plain SGD: p -= step*g (the same bits as p + (-step)*g). */
    public static void sgdStep(MemorySegment params, long pOff, MemorySegment grads, long gOff, long n, float step) {
        axpy(-step, grads, gOff, params, pOff, n);
    }
}
