package lstmlm.kernels;

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
            RowKernels.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, y, yOff);
            RowKernelsReference.matrixTimesVector(w, wOff, rows, cols, x, xOff, b, bOff, expected, yOff);
            for (long i = 0; i < y.byteSize() / 4; i++) {
                // float sums of `cols` products of magnitude <= 1: error well under cols·2^-24
                assertEquals(get(expected, i), get(y, i), 1e-6 * (cols + 1), "element " + i);
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
}
