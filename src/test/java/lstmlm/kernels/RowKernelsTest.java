package lstmlm.kernels;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each one-row kernel against its scalar reference, at sizes around and off the lane count. */
class RowKernelsTest {

    static MemorySegment random(Arena arena, long n, SplittableRandom rnd) {
        MemorySegment s = arena.allocate(4 * Math.max(n, 1), 64);
        for (long i = 0; i < n; i++) s.setAtIndex(JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        return s;
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT, i);
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,17", "3,7", "4,16", "5,33", "7,3", "13,37", "400,800", "200,1003", "9," + 3 * 16 + 1, "7,2500", "6,3073"})
    void vectorTimesMatrixIsBitIdenticalToTheFmaChainReference(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 31L + cols);
            long xOff = 3, wOff = 5, bOff = 2, yOff = 7;
            MemorySegment x = random(arena, xOff + rows, rnd), w = random(arena, wOff + (long) rows * cols, rnd);
            MemorySegment b = random(arena, bOff + cols, rnd);
            MemorySegment y = random(arena, yOff + cols + 4, rnd), expected = arena.allocate(y.byteSize(), 64);
            expected.copyFrom(y);
            RowKernels.vectorTimesMatrix(x, xOff, rows, w, wOff, cols, b, bOff, y, yOff);
            RowKernelsReference.vectorTimesMatrix(x, xOff, rows, w, wOff, cols, b, bOff, expected, yOff);
            for (long i = 0; i < y.byteSize() / 4; i++) {
                if (Float.floatToIntBits(get(expected, i)) != Float.floatToIntBits(get(y, i))) {
                    fail("element " + i + ": expected " + get(expected, i) + " but was " + get(y, i));
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1,1", "2,1,17", "3,3,7", "4,4,16", "5,5,33", "2,7,3", "6,13,37", "3,400,800", "7,200,1003",
            "4,9,2100", "16,8,1025"})
    void rowsTimesMatrixIsBitIdenticalToOneRowAtATime(int n, int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(n * 131L + rows * 31L + cols);
            int xStride = rows + 3, yStride = cols + 5;
            long xOff = 3, wOff = 5, bOff = 2, yOff = 7;
            MemorySegment x = random(arena, xOff + (long) n * xStride, rnd), w = random(arena, wOff + (long) rows * cols, rnd);
            MemorySegment b = random(arena, bOff + cols, rnd);
            MemorySegment y = random(arena, yOff + (long) n * yStride, rnd), expected = arena.allocate(y.byteSize(), 64);
            expected.copyFrom(y); // the gaps between output rows must stay as they were
            RowKernels.rowsTimesMatrix(x, xOff, xStride, n, rows, w, wOff, cols, b, bOff, y, yOff, yStride);
            for (int r = 0; r < n; r++) {
                RowKernelsReference.vectorTimesMatrix(x, xOff + (long) r * xStride, rows, w, wOff, cols, b, bOff,
                        expected, yOff + (long) r * yStride);
            }
            for (long i = 0; i < y.byteSize() / 4; i++) {
                if (Float.floatToIntBits(get(expected, i)) != Float.floatToIntBits(get(y, i))) {
                    fail("element " + i + ": expected " + get(expected, i) + " but was " + get(y, i));
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,17", "3,7", "4,16", "5,33", "7,3", "13,37", "37,200", "10,650"})
    void matrixTimesVectorMatchesTheDoubleReference(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 17L + cols);
            long wOff = 1, xOff = 6, bOff = 3, yOff = 2;
            MemorySegment w = random(arena, wOff + (long) rows * cols, rnd), x = random(arena, xOff + cols, rnd);
            MemorySegment b = random(arena, bOff + rows, rnd);
            MemorySegment y = arena.allocate(4L * (yOff + rows + 1), 64), expected = arena.allocate(y.byteSize(), 64);
            RowKernels.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, y, yOff);
            RowKernelsReference.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, expected, yOff);
            for (long i = 0; i < y.byteSize() / 4; i++) {
                // float sums of `cols` products of magnitude <= 1: error well under cols·2^-24
                assertEquals(get(expected, i), get(y, i), 1e-6 * (cols + 1), "element " + i);
            }
        }
    }

    /** W rounded to bf16, widened back: the float32 matrix a bf16 kernel must behave exactly like. */
    static MemorySegment bf16Of(Arena arena, MemorySegment w, long n, MemorySegment widened) {
        MemorySegment h = arena.allocate(2 * Math.max(n, 1), 64);
        Bf16.fromFloats(w, 0, h, 0, n);
        Bf16.toFloats(h, 0, widened, 0, n);
        return h;
    }

    @ParameterizedTest
    @CsvSource({"1,1", "3,7", "4,16", "5,33", "13,37", "200,1003", "9," + 3 * 16 + 1, "6,2500"})
    void bf16VectorTimesMatrixIsBitIdenticalToTheFloatKernelOnTheWidenedWeights(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 13L + cols);
            long n = (long) rows * cols;
            MemorySegment x = random(arena, rows + 2, rnd), w = random(arena, n, rnd), b = random(arena, cols, rnd);
            MemorySegment wide = arena.allocate(4 * Math.max(n, 1), 64), h = bf16Of(arena, w, n, wide);
            MemorySegment y = arena.allocate(4L * (cols + 1), 64), expected = arena.allocate(4L * (cols + 1), 64);
            RowKernels.vectorTimesMatrixBf16(x, 2, rows, h, 0, cols, 0, cols, b, 0, y, 1);
            RowKernels.vectorTimesMatrix(x, 2, rows, wide, 0, cols, b, 0, expected, 1);
            assertEquals(-1L, y.mismatch(expected), "same FMA chain on the same values");
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "3,7", "4,16", "5,33", "13,37", "200,1003", "9," + 3 * 16 + 1, "6,2500"})
    void int8VectorTimesMatrixIsScaleTimesTheByteSumPlusBias(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 17L + cols);
            long n = (long) rows * cols;
            MemorySegment x = random(arena, rows + 3, rnd), w = random(arena, n, rnd), b = random(arena, cols + 1, rnd);
            MemorySegment q = arena.allocate(Math.max(n, 1), 64), scales = arena.allocate(4L * (cols + 2), 64);
            Int8.quantize(w, 0, rows, cols, false, q, scales.asSlice(8));
            MemorySegment y = arena.allocate(4L * (cols + 1), 64);
            RowKernels.vectorTimesMatrixInt8(x, 3, rows, q, 0, cols, 0, cols, scales, 2, b, 1, y, 1);
            for (int j = 0; j < cols; j++) {
                double sum = 0, mag = 0;
                for (int k = 0; k < rows; k++) {
                    double t = (double) get(x, 3 + k) * q.get(Int8.I8, (long) k * cols + j);
                    sum += t;
                    mag += Math.abs(t);
                }
                double expected = get(b, 1 + j) + get(scales, 2 + j) * sum;
                assertEquals(expected, get(y, 1 + j), 1e-6 * (1 + get(scales, 2 + j) * mag), "output " + j);
                // and it is close to the float weights' product: the quantization error, half a step per weight
                double exact = get(b, 1 + j);
                for (int k = 0; k < rows; k++) exact += (double) get(x, 3 + k) * get(w, (long) k * cols + j);
                double bound = 0;
                for (int k = 0; k < rows; k++) bound += Math.abs(get(x, 3 + k)) * get(scales, 2 + j) / 2;
                assertEquals(exact, get(y, 1 + j), bound + 1e-5, "output " + j + " against the float weights");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1,false", "7,33,false", "37,200,false", "1,1,true", "7,33,true", "37,200,true"})
    void compactMatrixTimesVectorMatchesTheReference(int rows, int cols, boolean int8) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 19L + cols);
            long n = (long) rows * cols;
            MemorySegment w = random(arena, n, rnd), x = random(arena, cols + 1, rnd), b = random(arena, rows, rnd);
            MemorySegment wide = arena.allocate(4 * n, 64), scales = arena.allocate(4L * rows, 64), packed;
            if (int8) {
                packed = arena.allocate(n, 64);
                Int8.quantize(w, 0, rows, cols, true, packed, scales);
                Int8.dequantize(packed, scales, rows, cols, true, wide, 0);
            } else {
                packed = bf16Of(arena, w, n, wide);
            }
            MemorySegment y = arena.allocate(4L * rows, 64);
            if (int8) RowKernels.matrixTimesVectorInt8(packed, 0, rows, cols, x, 1, scales, 0, b, 0, y, 0);
            else RowKernels.matrixTimesVectorBf16(packed, 0, rows, cols, x, 1, b, 0, y, 0);
            for (int r = 0; r < rows; r++) {
                double s = get(b, r), mag = Math.abs(get(b, r));
                for (int j = 0; j < cols; j++) {
                    s += (double) get(wide, (long) r * cols + j) * get(x, 1 + j);
                    mag += Math.abs((double) get(wide, (long) r * cols + j) * get(x, 1 + j));
                }
                assertEquals(s, get(y, r), 1e-6 * (1 + mag), "row " + r);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void int8QuantizesSymmetricallyPerOutputAndARowDequantizesAsTheMatrixDoes() {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(3);
            int rows = 5, cols = 37;
            MemorySegment w = random(arena, (long) rows * cols, rnd);
            for (int c = 0; c < cols; c++) w.setAtIndex(JAVA_FLOAT, 2L * cols + c, 0f); // an all-zero row
            for (boolean perRow : new boolean[]{true, false}) {
                int outputs = perRow ? rows : cols;
                MemorySegment q = arena.allocate((long) rows * cols), s = arena.allocate(4L * outputs);
                Int8.quantize(w, 0, rows, cols, perRow, q, s);
                MemorySegment back = arena.allocate(4L * rows * cols);
                Int8.dequantize(q, s, rows, cols, perRow, back, 0);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        long i = (long) r * cols + c;
                        int o = perRow ? r : c;
                        assertTrue(Math.abs(q.get(Int8.I8, i)) <= 127);
                        assertEquals(get(w, i), get(back, i), get(s, o) / 2 + 1e-7, "within half a step");
                    }
                }
                if (perRow) {
                    assertEquals(0f, get(s, 2), "an all-zero output has scale 0");
                    MemorySegment row = arena.allocate(4L * cols);
                    for (int r = 0; r < rows; r++) {
                        Int8.dequantizeRow(q, (long) r * cols, get(s, r), cols, row, 0);
                        assertEquals(-1L, row.mismatch(back.asSlice(4L * r * cols, 4L * cols)), "row " + r);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "7", "16", "33", "1000", "10000"})
    void theSoftmaxNormaliserAndMaxMatchTheDoubleReference(int n) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(n);
            MemorySegment x = random(arena, n + 3, rnd), b = random(arena, n + 1, rnd);
            for (long i = 0; i < n + 3; i++) x.setAtIndex(JAVA_FLOAT, i, get(x, i) * 20); // logits in [-20, 20]
            double expected = RowKernelsReference.logSumExp(x, 3, b, 1, n);
            MemorySegment scratch = arena.allocate(4L * n, 64);
            assertEquals(expected, SoftmaxCrossEntropy.logSumExp(x, 3, b, 1, n, scratch, 0),
                    1e-6 * Math.max(1, Math.abs(expected)));
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, get(x, 3 + i) + get(b, 1 + i));
            assertEquals(max, SoftmaxCrossEntropy.max(x, 3, b, 1, n));
            // the exponentials it leaves behind are exp(x + b - max)
            for (int i = 0; i < n; i++) {
                double e = Math.exp((double) get(x, 3 + i) + get(b, 1 + i) - max);
                assertEquals(e, get(scratch, i), 1e-7 + 1e-6 * e, "exponential " + i);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"4", "60", "64", "1028", "4100"})
    void streamSumAddsEveryFloat(int bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(bytes, 64);
            double expected = 0;
            for (int i = 0; i < bytes / 4; i++) {
                x.setAtIndex(JAVA_FLOAT, i, i % 7);
                expected += i % 7;
            }
            assertEquals(expected, RowKernels.streamSum(x, bytes), 0);
        }
    }

    /** The arithmetic yardstick: every chain's every lane is the scalar recurrence acc = fma(acc, a, b + k). */
    @ParameterizedTest
    @CsvSource({"0", "1", "7", "1000"})
    void fmaChainsStepEveryChainAsTheScalarRecurrence(long rounds) {
        float a = 0.75f, b = 0.125f;
        float[] chain = new float[RowKernels.FMA_CHAINS];
        for (int k = 0; k < chain.length; k++) {
            for (long r = 0; r < rounds; r++) chain[k] = Math.fma(chain[k], a, b + k);
        }
        double expected = 0;
        for (float c : chain) expected += (double) c * RowKernels.floatLanes();
        assertEquals(expected, RowKernels.fmaChains(a, b, rounds), 1e-5 * Math.abs(expected));
        if (rounds > 0) assertTrue(RowKernels.fmaChains(a, b, rounds) != RowKernels.fmaChains(a, b + 1, rounds));
    }

    /**
     * Each format's one-row kernel over column ranges: the ranges together give the whole product's
     * bits, and a range writes its own columns only (what lets several threads share one product).
     */
    @ParameterizedTest
    @CsvSource({"FP32,7,100", "FP32,13,1003", "BF16,13,1003", "BF16,4,37", "INT8,13,1003", "INT8,5,33"})
    void columnRangesGiveTheWholeProductsBitsAndTouchNothingElse(String format, int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 7L + cols);
            long n = (long) rows * cols;
            MemorySegment x = random(arena, rows + 2, rnd), w = random(arena, 3 + n, rnd), b = random(arena, cols + 1, rnd);
            MemorySegment h = arena.allocate(2 * (3 + n), 64), q = arena.allocate(3 + n, 64), scales = arena.allocate(4L * (cols + 1), 64);
            Bf16.fromFloats(w, 0, h, 0, 3 + n);
            Int8.quantize(w, 3, rows, cols, false, q.asSlice(3), scales.asSlice(4));
            MemorySegment whole = arena.allocate(4L * (cols + 2), 64), parts = arena.allocate(4L * (cols + 2), 64);
            int[] cuts = {0, Math.min(cols, 3), cols / 2, cols / 2 + 1, cols};
            product(format, x, rows, w, h, q, scales, cols, 0, cols, b, whole);
            for (int c = 0; c + 1 < cuts.length; c++) {
                MemorySegment sentinel = arena.allocate(4L * (cols + 2), 64);
                sentinel.fill((byte) 0x7f);
                product(format, x, rows, w, h, q, scales, cols, cuts[c], cuts[c + 1], b, sentinel);
                for (int j = -1; j <= cols; j++) {
                    float got = get(sentinel, 1 + j);
                    if (j >= cuts[c] && j < cuts[c + 1]) {
                        assertEquals(Float.floatToIntBits(get(whole, 1 + j)), Float.floatToIntBits(got), format + " column " + j);
                    } else {
                        assertEquals(0x7f7f7f7f, Float.floatToRawIntBits(got), format + " range " + cuts[c] + ".." + cuts[c + 1]
                                + " wrote column " + j);
                    }
                }
                MemorySegment.copy(sentinel, 4L * (1 + cuts[c]), parts, 4L * (1 + cuts[c]), 4L * (cuts[c + 1] - cuts[c]));
            }
            assertEquals(-1L, whole.asSlice(4, 4L * cols).mismatch(parts.asSlice(4, 4L * cols)));
        }
    }

    /** y[1 + from .. 1 + to) of the product of x[2..] and W (at element 3 of w, h or q) in the given format. */
    private static void product(String format, MemorySegment x, int rows, MemorySegment w, MemorySegment h, MemorySegment q,
                                MemorySegment scales, int cols, int from, int to, MemorySegment b, MemorySegment y) {
        switch (format) {
            case "FP32" -> RowKernels.vectorTimesMatrix(x, 2, rows, w, 3, cols, from, to, b, 1, y, 1);
            case "BF16" -> RowKernels.vectorTimesMatrixBf16(x, 2, rows, h, 3, cols, from, to, b, 1, y, 1);
            default -> RowKernels.vectorTimesMatrixInt8(x, 2, rows, q, 3, cols, from, to, scales, 1, b, 1, y, 1);
        }
    }
}
