package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Symmetric int8 weights: w ≈ scale · q with q in [−127, 127] and one float32 scale per output
 * unit, scale = max |w| / 127 over that unit (0 when all its weights are 0, then every q is 0).
 * A matrix is [rows × cols] row-major, its scales run along the rows (one per row) or along the
 * columns (one per column). q = round(w / scale), ties away from zero, as {@link Math#round}.
 */
public final class Int8 {
    private Int8() {}

    /** Byte lanes of a quarter of {@link VectorShapes#F}'s width: one per float lane. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4));

    public static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** Quantizes {@code w} [rows × cols] (float offset {@code wOff}) into {@code q} and its scales. */
    public static void quantize(MemorySegment w, long wOff, long rows, long cols, boolean perRow,
                                MemorySegment q, MemorySegment scales) {
        long outputs = perRow ? rows : cols;
        float[] max = new float[Math.toIntExact(outputs)];
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                float a = Math.abs(w.getAtIndex(ValueLayout.JAVA_FLOAT, wOff + r * cols + c));
                int o = (int) (perRow ? r : c);
                if (a > max[o]) max[o] = a;
            }
        }
        for (int o = 0; o < outputs; o++) scales.setAtIndex(ValueLayout.JAVA_FLOAT, o, max[o] / 127f);
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                float s = scales.getAtIndex(ValueLayout.JAVA_FLOAT, perRow ? r : c);
                float x = w.getAtIndex(ValueLayout.JAVA_FLOAT, wOff + r * cols + c);
                int v = s == 0f ? 0 : Math.max(-127, Math.min(127, Math.round(x / s)));
                q.set(I8, r * cols + c, (byte) v);
            }
        }
    }

    /** dst[dstOff + r·cols + c] = scale · q[r, c]: the float32 matrix an int8 one stands for. */
    public static void dequantize(MemorySegment q, MemorySegment scales, long rows, long cols, boolean perRow,
                                  MemorySegment dst, long dstOff) {
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                float s = scales.getAtIndex(ValueLayout.JAVA_FLOAT, perRow ? r : c);
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, dstOff + r * cols + c, s * q.get(I8, r * cols + c));
            }
        }
    }

    /** y[yOff + i] = scale · q[qOff + i] for i in [0, n): one row of a per-row-scaled matrix, vectorised. */
    public static void dequantizeRow(MemorySegment q, long qOff, float scale, int n, MemorySegment y, long yOff) {
        final FloatVector vs = FloatVector.broadcast(F, scale);
        final int upper = F.loopBound(n);
        int i = 0;
        for (; i < upper; i += F.length()) {
            ((FloatVector) ByteVector.fromMemorySegment(B, q, qOff + i, NATIVE).convertShape(VectorOperators.B2F, F, 0))
                    .mul(vs).intoMemorySegment(y, 4 * (yOff + i), NATIVE);
        }
        for (; i < n; i++) y.setAtIndex(ValueLayout.JAVA_FLOAT, yOff + i, scale * q.get(I8, qOff + i));
    }
}
