package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain scalar version of {@link VectorMath}: same signatures and semantics. */
public final class VectorMathReference {
    private VectorMathReference() {}

    /** Accumulates in double: the accurate yardstick for the kernel's chunked float sums. */
    public static double sumOfSquares(MemorySegment seg, long off, long n) {
        double s = 0;
        for (long i = 0; i < n; i++) {
            double v = get(seg, off + i);
            s += v * v;
        }
        return s;
    }

    public static void axpy(float a, MemorySegment x, long xOff, MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) {
            set(y, yOff + i, get(y, yOff + i) + a * get(x, xOff + i));
        }
    }

    public static void addScalar(MemorySegment seg, long off, long n, float a) {
        for (long i = 0; i < n; i++) {
            set(seg, off + i, get(seg, off + i) + a);
        }
    }

    public static void scale(MemorySegment seg, long off, long n, float a) {
        for (long i = 0; i < n; i++) {
            set(seg, off + i, get(seg, off + i) * a);
        }
    }

    public static void add(MemorySegment dst, long dstOff, MemorySegment src, long srcOff, long n) {
        for (long i = 0; i < n; i++) {
            set(dst, dstOff + i, get(dst, dstOff + i) + get(src, srcOff + i));
        }
    }

    public static void mul(MemorySegment dst, long dstOff, MemorySegment a, long aOff, MemorySegment b, long bOff,
                           long n) {
        for (long i = 0; i < n; i++) {
            set(dst, dstOff + i, get(a, aOff + i) * get(b, bOff + i));
        }
    }

    public static void fill(MemorySegment seg, long off, long n, float v) {
        for (long i = 0; i < n; i++) {
            set(seg, off + i, v);
        }
    }

    public static void copy(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
        // memmove semantics: when dst starts above src, copy backwards so overlap reads old values
        if (src.address() + srcOff * Float.BYTES < dst.address() + dstOff * Float.BYTES) {
            for (long i = n - 1; i >= 0; i--) {
                set(dst, dstOff + i, get(src, srcOff + i));
            }
        } else {
            for (long i = 0; i < n; i++) {
                set(dst, dstOff + i, get(src, srcOff + i));
            }
        }
    }

    public static void sgdStep(MemorySegment params, long pOff, MemorySegment grads, long gOff, long n, float step) {
        for (long i = 0; i < n; i++) {
            set(params, pOff + i, get(params, pOff + i) - step * get(grads, gOff + i));
        }
    }
}
