package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertClose;
import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.floats;
import static lstmlm.kernels.KernelTestSupport.get;
import static lstmlm.kernels.KernelTestSupport.random;
import static lstmlm.kernels.KernelTestSupport.set;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Element-wise ops do the same float operations in the same order as the reference: compared bit
 * for bit. sumOfSquares: each chunk sums ≤ 4096 positive terms in float lanes (relative error
 * ≤ ~64 * 2^-24 ≈ 4e-6 worst case, ~1e-7 typical) and the reference sums in double, so rtol 1e-5.
 */
class VectorMathTest {
    static final int[] SIZES = {0, 1, 17, 1001, 3 * 4096 + 5};

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 17, 1001, 3 * 4096 + 5})
    void sumOfSquaresMatchesReference(int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = random(arena, n + 3, new SplittableRandom(n), -2f, 2f);
            double ref = VectorMathReference.sumOfSquares(x, 3, n);
            assertClose(ref, VectorMath.sumOfSquares(x, 3, n), 1e-5, 0, "sumOfSquares n=" + n);
        }
    }

    /** 2^22 ones: every partial sum is an integer below 2^24, so the result is exact. */
    @Test
    void sumOfSquaresHandComputed() {
        int n = 1 << 22;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = floats(arena, n + 1);
            VectorMath.fill(x, 1, n, -1f);
            set(x, 0, 1000f); // outside the range
            assertEquals(n, VectorMath.sumOfSquares(x, 1, n));
            set(x, 5, 3f);
            assertEquals(n + 8, VectorMath.sumOfSquares(x, 1, n));
            assertEquals(9.0 + 1e6, VectorMath.sumOfSquares(x, 0, 1) + VectorMath.sumOfSquares(x, 5, 1));
        }
    }

    @Test
    void elementwiseOpsMatchReferenceExactly() {
        for (int n : SIZES) {
            SplittableRandom rnd = new SplittableRandom(n + 17);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment x = random(arena, n + 4, rnd, -2f, 2f);
                MemorySegment y = random(arena, n + 6, rnd, -2f, 2f);
                MemorySegment y2 = copyOf(arena, y);

                VectorMath.axpy(0.37f, x, 4, y, 6, n);
                VectorMathReference.axpy(0.37f, x, 4, y2, 6, n);
                assertSameFloats(y2, y, "axpy n=" + n);

                VectorMath.scale(y, 6, n, -1.3f);
                VectorMathReference.scale(y2, 6, n, -1.3f);
                assertSameFloats(y2, y, "scale n=" + n);

                VectorMath.add(y, 6, x, 4, n);
                VectorMathReference.add(y2, 6, x, 4, n);
                assertSameFloats(y2, y, "add n=" + n);

                VectorMath.addScalar(y, 6, n, -0.71f);
                VectorMathReference.addScalar(y2, 6, n, -0.71f);
                assertSameFloats(y2, y, "addScalar n=" + n);

                MemorySegment d = floats(arena, n + 2), d2 = floats(arena, n + 2);
                VectorMath.mul(d, 2, x, 4, y, 6, n);
                VectorMathReference.mul(d2, 2, x, 4, y2, 6, n);
                assertSameFloats(d2, d, "mul n=" + n);
                VectorMath.mul(y, 6, y, 6, x, 4, n); // in place
                VectorMathReference.mul(y2, 6, y2, 6, x, 4, n);
                assertSameFloats(y2, y, "mul in place n=" + n);

                VectorMath.sgdStep(y, 6, x, 4, n, 0.9f);
                VectorMathReference.sgdStep(y2, 6, x, 4, n, 0.9f);
                assertSameFloats(y2, y, "sgdStep n=" + n);

                VectorMath.fill(y, 6, n, 2.5f);
                VectorMathReference.fill(y2, 6, n, 2.5f);
                assertSameFloats(y2, y, "fill n=" + n);

                VectorMath.copy(x, 4, y, 6, n);
                VectorMathReference.copy(x, 4, y2, 6, n);
                assertSameFloats(y2, y, "copy n=" + n);
            }
        }
    }

    /** y = 1, x_i = i: axpy(2) → 1 + 2i; sgdStep(0.5) with g = x → 1 + 1.5i; all exact in float. */
    @Test
    void elementwiseHandComputed() {
        int n = 1001;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = floats(arena, n), y = floats(arena, n), p = floats(arena, n);
            for (int i = 0; i < n; i++) {
                set(x, i, i);
            }
            VectorMath.fill(y, 0, n, 1f);
            VectorMath.axpy(2f, x, 0, y, 0, n);
            VectorMath.copy(y, 0, p, 0, n);
            VectorMath.sgdStep(p, 0, x, 0, n, 0.5f);
            VectorMath.scale(x, 0, n, 0.25f);
            for (int i = 0; i < n; i++) {
                assertEquals(1f + 2f * i, get(y, i), "axpy " + i);
                assertEquals(1f + 1.5f * i, get(p, i), "sgdStep " + i);
                assertEquals(0.25f * i, get(x, i), "scale " + i);
            }
            VectorMath.mul(p, 0, x, 0, x, 0, n); // (i/4)^2
            VectorMath.add(p, 0, y, 0, n);
            for (int i = 0; i < n; i++) {
                assertEquals(i * i / 16f + 1f + 2f * i, get(p, i), "mul+add " + i);
            }
        }
    }

    @Test
    void copyHandlesOverlapLikeMemmove() {
        int n = 100;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = floats(arena, n + 10), b = floats(arena, n + 10);
            for (int i = 0; i < n + 10; i++) {
                set(a, i, i);
                set(b, i, i);
            }
            VectorMath.copy(a, 0, a, 7, n);
            VectorMathReference.copy(b, 0, b, 7, n);
            assertSameFloats(b, a, "overlapping copy forward");
            for (int i = 0; i < n; i++) {
                assertEquals(i, get(a, 7 + i));
            }
            VectorMath.copy(a, 7, a, 2, n);
            VectorMathReference.copy(b, 7, b, 2, n);
            assertSameFloats(b, a, "overlapping copy backward");
        }
    }
}
