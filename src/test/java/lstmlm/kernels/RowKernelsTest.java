package lstmlm.infer;

import lstmlm.kernels.LstmCellReference;
import lstmlm.kernels.VectorShapes;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Each one-row kernel against its scalar reference, at sizes around and off the lane count. */
class RowKernelsTest {
    static final int L = VectorShapes.F.length();

    static MemorySegment random(Arena arena, long n, SplittableRandom rnd) {
        MemorySegment s = arena.allocate(4 * Math.max(n, 1), 64);
        for (long i = 0; i < n; i++) s.setAtIndex(JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        return s;
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT, i);
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,17", "3,7", "4,16", "5,33", "7,3", "13,37", "400,800", "200,1003", "9," + 3 * 16 + 1})
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
    @CsvSource({"1,1", "1,17", "3,7", "4,16", "5,33", "7,3", "13,37", "37,200", "10,650"})
    void matrixTimesVectorMatchesTheDoubleReference(int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(rows * 17L + cols);
            long wOff = 1, xOff = 6, bOff = 3, yOff = 2;
            MemorySegment w = random(arena, wOff + (long) rows * cols, rnd), x = random(arena, xOff + cols, rnd);
            MemorySegment b = random(arena, bOff + rows, rnd);
            MemorySegment y = arena.allocate(4L * (yOff + rows + 1), 64), expected = arena.allocate(y.byteSize(), 64);
            RowKernels.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, y, yOff, new float[4 * L]);
            RowKernelsReference.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, expected, yOff);
            for (long i = 0; i < y.byteSize() / 4; i++) {
                // float sums of `cols` products of magnitude <= 1: error well under cols·2^-24
                assertEquals(get(expected, i), get(y, i), 1e-6 * (cols + 1), "element " + i);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "7", "16", "33", "1000", "10000"})
    void logSumExpMaxAndExpIntoMatchTheReference(int n) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(n);
            MemorySegment x = random(arena, n + 3, rnd);
            for (long i = 0; i < n + 3; i++) x.setAtIndex(JAVA_FLOAT, i, get(x, i) * 20); // logits in [-20, 20]
            double expected = RowKernelsReference.logSumExp(x, 3, n);
            assertEquals(expected, RowKernels.logSumExp(x, 3, n, new float[n]), 1e-5 * Math.max(1, Math.abs(expected)));
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, get(x, 3 + i));
            assertEquals(max, RowKernels.max(x, 3, n));
            float[] out = new float[n];
            RowKernels.expInto(x, 3, n, (float) expected, 1f, out);
            double sum = 0;
            for (float p : out) sum += p;
            assertEquals(1.0, sum, 1e-4);
            for (int i = 0; i < n; i++) {
                assertEquals(Math.exp(get(x, 3 + i) - expected), out[i], 1e-6 + 1e-5 * out[i], "probability " + i);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "7", "16", "17", "33", "200", "650"})
    void lstmCellMatchesTheTrainingCellReference(int hidden) {
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(hidden);
            MemorySegment z = random(arena, 4L * hidden, rnd), bias = random(arena, 4L * hidden, rnd);
            for (long i = 0; i < 4L * hidden; i++) z.setAtIndex(JAVA_FLOAT, i, get(z, i) * 4);
            MemorySegment cPrev = random(arena, hidden + 2, rnd);
            MemorySegment c = arena.allocate(4L * (hidden + 1), 64), h = arena.allocate(4L * (hidden + 3), 64);
            MemorySegment zRef = arena.allocate(z.byteSize(), 64).copyFrom(z);
            MemorySegment cRef = arena.allocate(c.byteSize(), 64), hRef = arena.allocate(h.byteSize(), 64);
            RowKernels.lstmCell(z, 0, bias, cPrev, 2, c, 1, h, 3, hidden);
            LstmCellReference.forward(zRef, 0, bias, 0, cPrev, 2, cRef, 1, arena.allocate(4L * hidden, 64), 0, hRef, 3, 1, hidden, Model.FORGET_BIAS);
            for (long i = 0; i < 4L * hidden; i++) assertEquals(get(zRef, i), get(z, i), 1e-6 + 1e-5 * Math.abs(get(zRef, i)), "gate " + i);
            for (long i = 0; i < hidden + 1; i++) assertEquals(get(cRef, i), get(c, i), 1e-6 + 1e-5 * Math.abs(get(cRef, i)), "c " + i);
            for (long i = 0; i < hidden + 3; i++) assertEquals(get(hRef, i), get(h, i), 1e-6 + 1e-5 * Math.abs(get(hRef, i)), "h " + i);
        }
    }

    @org.junit.jupiter.api.Test
    void ownExpAndSquashAreAccurateAndTheirVectorAndScalarFormsAgreeBitForBit() {
        SplittableRandom rnd = new SplittableRandom(4);
        int n = L * 4000 + 5;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4L * n, 64);
            for (int i = 0; i < n; i++) x.setAtIndex(JAVA_FLOAT, i, (float) (rnd.nextDouble() * 175 - 87));
            x.setAtIndex(JAVA_FLOAT, 0, 0f);
            x.setAtIndex(JAVA_FLOAT, 1, -87f);
            x.setAtIndex(JAVA_FLOAT, 2, 88f);
            x.setAtIndex(JAVA_FLOAT, 3, -1e-9f);
            float[] e = new float[n];
            RowKernels.expInto(x, 0, n, 0f, 1f, e);
            MemorySegment sig = arena.allocate(4L * n, 64), th = arena.allocate(4L * n, 64);
            RowKernels.squash(x, 0, sig, 0, n, 1f, 1f, 0f);
            RowKernels.squash(x, 0, th, 0, n, 2f, 2f, -1f);
            for (int i = 0; i < n; i++) {
                float v = get(x, i);
                assertEquals(Float.floatToIntBits(RowKernels.exp(v)), Float.floatToIntBits(e[i]), "exp(" + v + ")");
                assertEquals(Float.floatToIntBits(RowKernels.sigmoid(v)), Float.floatToIntBits(get(sig, i)), "σ(" + v + ")");
                assertEquals(Float.floatToIntBits(RowKernels.tanh(v)), Float.floatToIntBits(get(th, i)), "tanh(" + v + ")");
                double expected = Math.exp(v);
                assertEquals(expected, e[i], 5e-7 * expected, "exp(" + v + ")");
                assertEquals(1 / (1 + Math.exp(-v)), get(sig, i), 2e-7, "σ(" + v + ")");
                assertEquals(Math.tanh(v), get(th, i), 3e-7, "tanh(" + v + ")");
            }
        }
        assertEquals(1f, RowKernels.exp(0f));
        assertEquals(0f, RowKernels.tanh(0f));
        assertEquals(0.5f, RowKernels.sigmoid(0f));
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
}
