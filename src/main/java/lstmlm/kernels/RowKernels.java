package lstmlm.kernels;

import static jdk.incubator.vector.VectorOperators.AND;
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.FLOAT;
import static lstmlm.kernels.VectorShapes.FOLDS;
import static lstmlm.kernels.VectorShapes.I;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;

/**
 * One-row products for streaming inference: a single input vector against a weight matrix that is
 * read once per token, so these are memory-bound and shaped to stream the weights in address order.
 * Offsets and lengths are in float elements. The rest of an inference step (the LSTM cell, the
 * softmax normaliser) is the training kernels' code: {@link LstmCell}, {@link SoftmaxCrossEntropy},
 * {@link FastExp}.
 *
 * <p>Every result is bit-identical however the JVM runs the code (interpreter, C1, C2): only IEEE
 * operations that are exactly rounded (add, mul, fma) are used, and lanes are summed by
 * {@link VectorShapes#FOLDS} in a fixed order (reduceLanes(ADD) is a tree when compiled and a
 * loop when not). So a session gives the same bits on a cold thread as on a warm one.
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
        vectorTimesMatrix(x, xOff, rows, w, wOff, cols, 0, cols, bias, biasOff, y, yOff);
    }

    /**
     * {@link #vectorTimesMatrix} for the columns [from, to) alone: y[from..to) is written, bit for bit
     * what the whole product gives there, and nothing else is touched, so several threads may each take
     * a range of one product.
     */
    public static void vectorTimesMatrix(MemorySegment x, long xOff, int rows, MemorySegment w, long wOff, int cols,
                                         int from, int to, MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        int width = to - from;
        long yb = (yOff + from) * 4;
        MemorySegment.copy(bias, (biasOff + from) * 4, y, yb, (long) width * 4);
        // Small methods on purpose: one big method with both loops and tails ran out of C1 registers
        // ("COMPILE SKIPPED: out of virtual registers"), never reached C2 and boxed every vector.
        int k = 0;
        for (; k + ROW_BLOCK <= rows; k += ROW_BLOCK) {
            addFourRows(x.getAtIndex(FLOAT, xOff + k), x.getAtIndex(FLOAT, xOff + k + 1),
                    x.getAtIndex(FLOAT, xOff + k + 2), x.getAtIndex(FLOAT, xOff + k + 3),
                    w, (wOff + (long) k * cols + from) * 4, cols, width, y, yb);
        }
        for (; k < rows; k++) { // leftover rows, one at a time
            addOneRow(x.getAtIndex(FLOAT, xOff + k), w, (wOff + (long) k * cols + from) * 4, width, y, yb);
        }
    }

    /** Columns of a tile of {@link #rowsTimesMatrix}: four weight rows of it (16 KB) stay in L1 while every input row uses them. */
    private static final int COLUMN_TILE = 1024;

    /**
     * {@link #vectorTimesMatrix} for n input rows at once: y_r = bias + x_r·W for r in [0, n), x_r at
     * {@code xOff + r·xStride}, y_r at {@code yOff + r·yStride}. W is read from memory once for all n
     * rows: each block of four W rows is taken a column tile at a time, and every input row uses the
     * tile while it is in L1. Each y_r[j] is the same FMA chain as {@link #vectorTimesMatrix} gives
     * row r alone, so the results are bit-identical to n one-row calls.
     */
    public static void rowsTimesMatrix(MemorySegment x, long xOff, int xStride, int n, int rows, MemorySegment w, long wOff,
                                       int cols, MemorySegment bias, long biasOff, MemorySegment y, long yOff, int yStride) {
        for (int r = 0; r < n; r++) MemorySegment.copy(bias, biasOff * 4, y, (yOff + (long) r * yStride) * 4, (long) cols * 4);
        int k = 0;
        for (; k + ROW_BLOCK <= rows; k += ROW_BLOCK) {
            long wk = (wOff + (long) k * cols) * 4;
            for (int j0 = 0; j0 < cols; j0 += COLUMN_TILE) {
                int width = Math.min(COLUMN_TILE, cols - j0);
                for (int r = 0; r < n; r++) {
                    long xr = xOff + (long) r * xStride + k;
                    addFourRows(x.getAtIndex(FLOAT, xr), x.getAtIndex(FLOAT, xr + 1), x.getAtIndex(FLOAT, xr + 2),
                            x.getAtIndex(FLOAT, xr + 3), w, wk + 4L * j0, cols, width, y, (yOff + (long) r * yStride + j0) * 4);
                }
            }
        }
        for (; k < rows; k++) { // leftover rows, one at a time, as the one-row kernel takes them
            for (int r = 0; r < n; r++) {
                addOneRow(x.getAtIndex(FLOAT, xOff + (long) r * xStride + k), w, (wOff + (long) k * cols) * 4, cols, y,
                        (yOff + (long) r * yStride) * 4);
            }
        }
    }

    /**
     * y[0..width) = fma(W[k+3], x3, fma(W[k+2], x2, fma(W[k+1], x1, fma(W[k], x0, y)))) over the first
     * {@code width} columns of four W rows {@code stride} floats apart; byte offsets.
     */
    private static void addFourRows(float x0, float x1, float x2, float x3, MemorySegment w, long r0, int stride, int width,
                                    MemorySegment y, long yb) {
        final FloatVector v0 = FloatVector.broadcast(F, x0), v1 = FloatVector.broadcast(F, x1);
        final FloatVector v2 = FloatVector.broadcast(F, x2), v3 = FloatVector.broadcast(F, x3);
        final long rowBytes = (long) stride * 4, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        final int cols = width, upper = F.loopBound(cols);
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
     * independent accumulators, each reduced once after the loop.
     */
    public static void matrixTimesVector(MemorySegment w, long wOff, int rows, int cols, MemorySegment x, long xOff,
                                         MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
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
            for (var fold : FOLDS) {
                a0 = a0.add(a0.rearrange(fold));
                a1 = a1.add(a1.rearrange(fold));
                a2 = a2.add(a2.rearrange(fold));
                a3 = a3.add(a3.rearrange(fold));
            }
            float s0 = a0.lane(0), s1 = a1.lane(0), s2 = a2.lane(0), s3 = a3.lane(0);
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
            for (var fold : FOLDS) a0 = a0.add(a0.rearrange(fold));
            float s0 = a0.lane(0);
            for (int j = upper; j < cols; j++) {
                s0 = Math.fma(w.get(FLOAT, w0 + 4L * j), x.get(FLOAT, xb + 4L * j), s0);
            }
            y.setAtIndex(FLOAT, yOff + r, s0 + bias.getAtIndex(FLOAT, biasOff + r));
        }
    }

    // ---------------------------------------------------------------- bf16 and int8 weights
    // The same loops over compact weights: bf16 widened by a 16-bit shift, int8 converted and its
    // per-output scale applied once after the sum. Offsets of the weights count their own elements.

    /**
     * {@link #vectorTimesMatrix}'s range form with W in bf16 (each widened exactly; the same FMA chain per
     * output): y[from..to) alone; [0, cols) for the whole product.
     *
     * <p>Whole groups of 2L columns read their weights as L 32-bit lanes, each a pair of adjacent bf16
     * weights: the even column widens by a shift, the odd one by a mask, one operation each where a
     * 16-to-32-bit conversion and a shift cost two. While the rows are summed such a group of y
     * holds its L even columns, then its L odd ones, and is put back in order at the end; the
     * columns past the last whole group are summed one at a time.
     */
    public static void vectorTimesMatrixBf16(MemorySegment x, long xOff, int rows, MemorySegment w, long wOff, int cols,
                                             int from, int to, MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        int width = to - from;
        int paired = width - width % (2 * F.length()); // columns in whole groups
        long yb = (yOff + from) * 4;
        MemorySegment.copy(bias, (biasOff + from) * 4, y, yb, (long) width * 4);
        splitPairs(y, yb, paired);
        int k = 0;
        for (; k + ROW_BLOCK <= rows; k += ROW_BLOCK) {
            float x0 = x.getAtIndex(FLOAT, xOff + k), x1 = x.getAtIndex(FLOAT, xOff + k + 1);
            float x2 = x.getAtIndex(FLOAT, xOff + k + 2), x3 = x.getAtIndex(FLOAT, xOff + k + 3);
            long w0 = (wOff + (long) k * cols + from) * 2;
            addFourRowsBf16Pairs(x0, x1, x2, x3, w, w0, cols, paired, y, yb);
            addFourRowsBf16(x0, x1, x2, x3, w, w0 + 2L * paired, cols, width - paired, y, yb + 4L * paired);
        }
        for (; k < rows; k++) {
            float xk = x.getAtIndex(FLOAT, xOff + k);
            long w0 = (wOff + (long) k * cols + from) * 2;
            addOneRowBf16Pairs(xk, w, w0, paired, y, yb);
            addOneRowBf16(xk, w, w0 + 2L * paired, width - paired, y, yb + 4L * paired);
        }
        joinPairs(y, yb, paired);
    }

    private static final VectorShuffle<Float> EVEN_OF_BOTH = VectorShuffle.fromOp(F, i -> 2 * i % F.length());
    private static final VectorShuffle<Float> ODD_OF_BOTH = VectorShuffle.fromOp(F, i -> (2 * i + 1) % F.length());
    private static final VectorShuffle<Float> FIRST_HALF_TWICE = VectorShuffle.fromOp(F, i -> i / 2);
    private static final VectorShuffle<Float> SECOND_HALF_TWICE = VectorShuffle.fromOp(F, i -> F.length() / 2 + i / 2);
    private static final VectorMask<Float> UPPER_HALF = F.indexInRange(-F.length() / 2, F.length() / 2);
    private static final VectorMask<Float> ODD_LANES = VectorMask.fromLong(F, 0xAAAA_AAAA_AAAA_AAAAL);

    /** Each group of 2L floats at byte offset b (n floats, whole groups) becomes its even elements, then its odd ones. */
    private static void splitPairs(MemorySegment y, long b, int n) {
        regroup(y, b, n, EVEN_OF_BOTH, ODD_OF_BOTH, UPPER_HALF);
    }

    /** {@link #splitPairs} undone: each group's even and odd elements interleaved again. */
    private static void joinPairs(MemorySegment y, long b, int n) {
        regroup(y, b, n, FIRST_HALF_TWICE, SECOND_HALF_TWICE, ODD_LANES);
    }

    /**
     * Each group of two vectors (v, u) at byte offset b becomes two others: v and u rearranged by
     * {@code s}, then by {@code t}, each taking the lanes of {@code second} from u and the rest from v.
     */
    private static void regroup(MemorySegment y, long b, int n, VectorShuffle<Float> s,
                                VectorShuffle<Float> t, VectorMask<Float> second) {
        final int L = F.length();
        for (int j = 0; j < n; j += 2 * L) {
            long at = b + 4L * j;
            FloatVector v = FloatVector.fromMemorySegment(F, y, at, NATIVE), u = FloatVector.fromMemorySegment(F, y, at + 4L * L, NATIVE);
            v.rearrange(s).blend(u.rearrange(s), second).intoMemorySegment(y, at, NATIVE);
            v.rearrange(t).blend(u.rearrange(t), second).intoMemorySegment(y, at + 4L * L, NATIVE);
        }
    }

    /**
     * y += x0·W[k] + … + x3·W[k+3] (bf16 rows {@code stride} apart, at byte offset r0) over n columns
     * in whole groups of 2L, y's groups split into even and odd columns.
     */
    private static void addFourRowsBf16Pairs(float x0, float x1, float x2, float x3, MemorySegment w, long r0, int stride,
                                             int n, MemorySegment y, long yb) {
        final int L = F.length();
        final FloatVector v0 = FloatVector.broadcast(F, x0), v1 = FloatVector.broadcast(F, x1);
        final FloatVector v2 = FloatVector.broadcast(F, x2), v3 = FloatVector.broadcast(F, x3);
        final long rowBytes = (long) stride * 2, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        for (int j = 0; j < n; j += 2 * L) {
            final long jb = yb + 4L * j, wb = 2L * j;
            FloatVector even = FloatVector.fromMemorySegment(F, y, jb, NATIVE);
            FloatVector odd = FloatVector.fromMemorySegment(F, y, jb + 4L * L, NATIVE);
            IntVector p = IntVector.fromMemorySegment(I, w, r0 + wb, NATIVE);
            even = p.lanewise(LSHL, 16).reinterpretAsFloats().fma(v0, even);
            odd = p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(v0, odd);
            p = IntVector.fromMemorySegment(I, w, r1 + wb, NATIVE);
            even = p.lanewise(LSHL, 16).reinterpretAsFloats().fma(v1, even);
            odd = p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(v1, odd);
            p = IntVector.fromMemorySegment(I, w, r2 + wb, NATIVE);
            even = p.lanewise(LSHL, 16).reinterpretAsFloats().fma(v2, even);
            odd = p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(v2, odd);
            p = IntVector.fromMemorySegment(I, w, r3 + wb, NATIVE);
            even = p.lanewise(LSHL, 16).reinterpretAsFloats().fma(v3, even);
            odd = p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(v3, odd);
            even.intoMemorySegment(y, jb, NATIVE);
            odd.intoMemorySegment(y, jb + 4L * L, NATIVE);
        }
    }

    /** {@link #addFourRowsBf16Pairs} for one row. */
    private static void addOneRowBf16Pairs(float xk, MemorySegment w, long r0, int n, MemorySegment y, long yb) {
        final int L = F.length();
        final FloatVector vk = FloatVector.broadcast(F, xk);
        for (int j = 0; j < n; j += 2 * L) {
            final long jb = yb + 4L * j;
            IntVector p = IntVector.fromMemorySegment(I, w, r0 + 2L * j, NATIVE);
            p.lanewise(LSHL, 16).reinterpretAsFloats().fma(vk, FloatVector.fromMemorySegment(F, y, jb, NATIVE))
                    .intoMemorySegment(y, jb, NATIVE);
            p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(vk, FloatVector.fromMemorySegment(F, y, jb + 4L * L, NATIVE))
                    .intoMemorySegment(y, jb + 4L * L, NATIVE);
        }
    }

    /**
     * 2L bf16 weights read as L int lanes are L (even, odd) pairs, little-endian, the even one low:
     * the even weight widens as the lane shifted left by 16, the odd one as the lane's high half.
     */
    private static final int ODD_BITS = 0xFFFF0000;

    /**
     * y += x0·W[k] + … + x3·W[k+3] over the first {@code cols} (< 2L) columns of bf16 rows {@code stride}
     * apart; byte offsets. Scalar: widening a vector of bf16 by a 16-to-32-bit conversion allocated
     * on every call where L = 16 (SessionTest's allocation check, AVX-512), and these columns are
     * only what is left of a row past its whole groups of 2L.
     */
    private static void addFourRowsBf16(float x0, float x1, float x2, float x3, MemorySegment w, long r0, int stride, int cols,
                                        MemorySegment y, long yb) {
        final long rowBytes = (long) stride * 2, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        for (int j = 0; j < cols; j++) {
            final long jb = 4L * j, wb = 2L * j;
            float acc = y.get(FLOAT, yb + jb);
            acc = Math.fma(Bf16.toFloat(w.get(Bf16.BF16, r0 + wb)), x0, acc);
            acc = Math.fma(Bf16.toFloat(w.get(Bf16.BF16, r1 + wb)), x1, acc);
            acc = Math.fma(Bf16.toFloat(w.get(Bf16.BF16, r2 + wb)), x2, acc);
            acc = Math.fma(Bf16.toFloat(w.get(Bf16.BF16, r3 + wb)), x3, acc);
            y.set(FLOAT, yb + jb, acc);
        }
    }

    /** {@link #addFourRowsBf16} for one row. */
    private static void addOneRowBf16(float xk, MemorySegment w, long r0, int cols, MemorySegment y, long yb) {
        for (int j = 0; j < cols; j++) {
            final long jb = 4L * j;
            y.set(FLOAT, yb + jb, Math.fma(Bf16.toFloat(w.get(Bf16.BF16, r0 + 2L * j)), xk, y.get(FLOAT, yb + jb)));
        }
    }

    /**
     * y[j] = bias[j] + scale[j] · Σ_k x[k]·q[k, j] for int8 W [rows × cols] with one scale per
     * column (output), for j in [from, to) alone ([0, cols) for the whole product): the sum in float32
     * over the converted bytes, the scale applied once.
     */
    public static void vectorTimesMatrixInt8(MemorySegment x, long xOff, int rows, MemorySegment w, long wOff, int cols,
                                             int from, int to, MemorySegment scales, long scalesOff, MemorySegment bias,
                                             long biasOff, MemorySegment y, long yOff) {
        int width = to - from;
        long yb = (yOff + from) * 4;
        VectorMath.fill(y, yOff + from, width, 0f);
        int k = 0;
        for (; k + ROW_BLOCK <= rows; k += ROW_BLOCK) {
            addFourRowsInt8(x.getAtIndex(FLOAT, xOff + k), x.getAtIndex(FLOAT, xOff + k + 1),
                    x.getAtIndex(FLOAT, xOff + k + 2), x.getAtIndex(FLOAT, xOff + k + 3),
                    w, wOff + (long) k * cols + from, cols, width, y, yb);
        }
        for (; k < rows; k++) {
            addOneRowInt8(x.getAtIndex(FLOAT, xOff + k), w, wOff + (long) k * cols + from, width, y, yb);
        }
        scaleAndBias(y, yOff + from, scales, scalesOff + from, bias, biasOff + from, width);
    }

    /** y += x0·q[k] + … + x3·q[k+3] over the first {@code cols} columns of int8 rows {@code stride} apart; q offsets in elements. */
    private static void addFourRowsInt8(float x0, float x1, float x2, float x3, MemorySegment w, long r0, int stride, int cols,
                                        MemorySegment y, long yb) {
        final FloatVector v0 = FloatVector.broadcast(F, x0), v1 = FloatVector.broadcast(F, x1);
        final FloatVector v2 = FloatVector.broadcast(F, x2), v3 = FloatVector.broadcast(F, x3);
        final long r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
        final int upper = F.loopBound(cols);
        int j = 0;
        for (; j < upper; j += F.length()) {
            final long jb = 4L * j;
            FloatVector acc = FloatVector.fromMemorySegment(F, y, yb + jb, NATIVE);
            acc = ((FloatVector) ByteVector.fromMemorySegment(Int8.B, w, r0 + j, NATIVE).convertShape(B2F, F, 0)).fma(v0, acc);
            acc = ((FloatVector) ByteVector.fromMemorySegment(Int8.B, w, r1 + j, NATIVE).convertShape(B2F, F, 0)).fma(v1, acc);
            acc = ((FloatVector) ByteVector.fromMemorySegment(Int8.B, w, r2 + j, NATIVE).convertShape(B2F, F, 0)).fma(v2, acc);
            acc = ((FloatVector) ByteVector.fromMemorySegment(Int8.B, w, r3 + j, NATIVE).convertShape(B2F, F, 0)).fma(v3, acc);
            acc.intoMemorySegment(y, yb + jb, NATIVE);
        }
        for (; j < cols; j++) {
            final long jb = 4L * j;
            float acc = y.get(FLOAT, yb + jb);
            acc = Math.fma(w.get(Int8.I8, r0 + j), x0, acc);
            acc = Math.fma(w.get(Int8.I8, r1 + j), x1, acc);
            acc = Math.fma(w.get(Int8.I8, r2 + j), x2, acc);
            acc = Math.fma(w.get(Int8.I8, r3 + j), x3, acc);
            y.set(FLOAT, yb + jb, acc);
        }
    }

    private static void addOneRowInt8(float xk, MemorySegment w, long r0, int cols, MemorySegment y, long yb) {
        final FloatVector vk = FloatVector.broadcast(F, xk);
        final int upper = F.loopBound(cols);
        int j = 0;
        for (; j < upper; j += F.length()) {
            final long jb = 4L * j;
            FloatVector q = (FloatVector) ByteVector.fromMemorySegment(Int8.B, w, r0 + j, NATIVE).convertShape(B2F, F, 0);
            q.fma(vk, FloatVector.fromMemorySegment(F, y, yb + jb, NATIVE)).intoMemorySegment(y, yb + jb, NATIVE);
        }
        for (; j < cols; j++) {
            final long jb = 4L * j;
            y.set(FLOAT, yb + jb, Math.fma(w.get(Int8.I8, r0 + j), xk, y.get(FLOAT, yb + jb)));
        }
    }

    /** y[j] = fma(y[j], scale[j], bias[j]) for j in [0, n). */
    private static void scaleAndBias(MemorySegment y, long yOff, MemorySegment scales, long sOff, MemorySegment bias,
                                     long bOff, int n) {
        final int upper = F.loopBound(n);
        int j = 0;
        for (; j < upper; j += F.length()) {
            FloatVector.fromMemorySegment(F, y, 4 * (yOff + j), NATIVE)
                    .fma(FloatVector.fromMemorySegment(F, scales, 4 * (sOff + j), NATIVE),
                            FloatVector.fromMemorySegment(F, bias, 4 * (bOff + j), NATIVE))
                    .intoMemorySegment(y, 4 * (yOff + j), NATIVE);
        }
        for (; j < n; j++) {
            y.setAtIndex(FLOAT, yOff + j, Math.fma(y.getAtIndex(FLOAT, yOff + j), scales.getAtIndex(FLOAT, sOff + j),
                    bias.getAtIndex(FLOAT, bOff + j)));
        }
    }

    /**
     * {@link #matrixTimesVector} for a bf16 W [rows × cols] (the tied or transposed softmax):
     * y[r] = bias[r] + W[r]·x. One kernel per format, so a compiled caller holds one dot product loop.
     */
    public static void matrixTimesVectorBf16(MemorySegment w, long wOff, int rows, int cols, MemorySegment x, long xOff,
                                             MemorySegment bias, long biasOff, MemorySegment y, long yOff) {
        for (int r = 0; r < rows; r++) {
            float dot = dotBf16(w, (wOff + (long) r * cols) * 2, x, xOff, cols);
            y.setAtIndex(FLOAT, yOff + r, dot + bias.getAtIndex(FLOAT, biasOff + r));
        }
    }

    /** {@link #matrixTimesVector} for an int8 W [rows × cols] with one scale per row: y[r] = bias[r] + scale[r] · W[r]·x. */
    public static void matrixTimesVectorInt8(MemorySegment w, long wOff, int rows, int cols, MemorySegment x, long xOff,
                                             MemorySegment scales, long scalesOff, MemorySegment bias, long biasOff,
                                             MemorySegment y, long yOff) {
        for (int r = 0; r < rows; r++) {
            float dot = dotInt8(w, wOff + (long) r * cols, x, xOff, cols);
            y.setAtIndex(FLOAT, yOff + r, Math.fma(dot, scales.getAtIndex(FLOAT, scalesOff + r), bias.getAtIndex(FLOAT, biasOff + r)));
        }
    }

    /**
     * W-row · x over n bf16 weights at byte offset wb: whole groups of 2L weights read as L int pairs
     * (as {@link #vectorTimesMatrixBf16} does), their even and odd weights against x's even and odd
     * elements of the group; the rest scalar.
     */
    private static float dotBf16(MemorySegment w, long wb, MemorySegment x, long xOff, int n) {
        final int L = F.length();
        final int paired = n - n % (2 * L);
        FloatVector accEven = FloatVector.zero(F), accOdd = FloatVector.zero(F);
        for (int j = 0; j < paired; j += 2 * L) {
            FloatVector a = FloatVector.fromMemorySegment(F, x, 4 * (xOff + j), NATIVE);
            FloatVector b = FloatVector.fromMemorySegment(F, x, 4 * (xOff + j + L), NATIVE);
            FloatVector xEven = a.rearrange(EVEN_OF_BOTH).blend(b.rearrange(EVEN_OF_BOTH), UPPER_HALF);
            FloatVector xOdd = a.rearrange(ODD_OF_BOTH).blend(b.rearrange(ODD_OF_BOTH), UPPER_HALF);
            IntVector p = IntVector.fromMemorySegment(I, w, wb + 2L * j, NATIVE);
            accEven = p.lanewise(LSHL, 16).reinterpretAsFloats().fma(xEven, accEven);
            accOdd = p.lanewise(AND, ODD_BITS).reinterpretAsFloats().fma(xOdd, accOdd);
        }
        FloatVector acc = accEven.add(accOdd);
        for (var fold : FOLDS) acc = acc.add(acc.rearrange(fold));
        float s = acc.lane(0);
        for (int j = paired; j < n; j++) s = Math.fma(Bf16.toFloat(w.get(Bf16.BF16, wb + 2L * j)), x.getAtIndex(FLOAT, xOff + j), s);
        return s;
    }

    private static float dotInt8(MemorySegment w, long wOff, MemorySegment x, long xOff, int n) {
        final int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int j = 0;
        for (; j < upper; j += F.length()) {
            FloatVector q = (FloatVector) ByteVector.fromMemorySegment(Int8.B, w, wOff + j, NATIVE).convertShape(B2F, F, 0);
            acc = q.fma(FloatVector.fromMemorySegment(F, x, 4 * (xOff + j), NATIVE), acc);
        }
        for (var fold : FOLDS) acc = acc.add(acc.rearrange(fold));
        float s = acc.lane(0);
        for (; j < n; j++) s = Math.fma(w.get(Int8.I8, wOff + j), x.getAtIndex(FLOAT, xOff + j), s);
        return s;
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
        s0 = s0.add(s1).add(s2.add(s3));
        for (var fold : FOLDS) s0 = s0.add(s0.rearrange(fold));
        float sum = s0.lane(0);
        for (; i < n; i++) sum += x.getAtIndex(FLOAT, i);
        return sum;
    }

    /** Independent chains in {@link #fmaChains}: enough to keep two FMA pipes busy through their latency. */
    public static final int FMA_CHAINS = 8;

    /**
     * The yardstick for one thread's arithmetic peak: {@link #FMA_CHAINS} independent vector chains, chain k
     * stepped {@code rounds} times as acc = acc·a + (b + k), each lane alike, then every lane of every chain
     * summed. It does rounds · FMA_CHAINS · {@link #floatLanes} fused multiply-adds.
     */
    public static float fmaChains(float a, float b, long rounds) {
        final FloatVector va = FloatVector.broadcast(F, a);
        FloatVector b0 = FloatVector.broadcast(F, b), b1 = FloatVector.broadcast(F, b + 1), b2 = FloatVector.broadcast(F, b + 2),
                b3 = FloatVector.broadcast(F, b + 3), b4 = FloatVector.broadcast(F, b + 4), b5 = FloatVector.broadcast(F, b + 5),
                b6 = FloatVector.broadcast(F, b + 6), b7 = FloatVector.broadcast(F, b + 7);
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (long r = 0; r < rounds; r++) {
            s0 = s0.fma(va, b0);
            s1 = s1.fma(va, b1);
            s2 = s2.fma(va, b2);
            s3 = s3.fma(va, b3);
            s4 = s4.fma(va, b4);
            s5 = s5.fma(va, b5);
            s6 = s6.fma(va, b6);
            s7 = s7.fma(va, b7);
        }
        s0 = s0.add(s1).add(s2.add(s3)).add(s4.add(s5).add(s6.add(s7)));
        for (var fold : FOLDS) s0 = s0.add(s0.rearrange(fold));
        return s0.lane(0);
    }

    /** Floats in one vector of the kernels' species. */
    public static int floatLanes() {
        return F.length();
    }
}
