package lstmlm.kernels;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FastExpTest {

    /** Inputs across the whole useful range, plus the edges and beyond the clamps. */
    static float[] inputs() {
        int n = 200_000;
        float[] x = new float[n + 8];
        for (int i = 0; i < n; i++) x[i] = -100f + 200f * i / n;
        float[] edges = {0f, -0f, 87f, -87f, 1e-8f, -1e-8f, 1000f, -1000f};
        System.arraycopy(edges, 0, x, n, edges.length);
        return x;
    }

    @Test
    void vectorLanesAndScalarTailGiveTheSameBitsCompiledOrNot() {
        float[] x = inputs();
        int n = x.length - 5; // not a multiple of the lane count: the tail runs too
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate((long) x.length * 4, 64), bias = arena.allocate((long) x.length * 4, 64);
            MemorySegment out = arena.allocate((long) x.length * 4, 64);
            MemorySegment.copy(x, 0, in, JAVA_FLOAT, 0, x.length);
            for (int i = 0; i < x.length; i++) bias.setAtIndex(JAVA_FLOAT, i, (i % 7) * 0.25f - 0.5f);
            // the first passes run interpreted, later ones compiled: every one must give the same bits
            for (int rep = 0; rep < 60; rep++) {
                float alpha = rep % 2 == 0 ? -1f : 2f, shift = rep % 3 == 0 ? 0f : 1.5f;
                float sum = FastExp.expSum(alpha, in, 0, bias, 0, shift, out, 0, n);
                float expectedSum = 0;
                for (int i = 0; i < n; i++) {
                    float e = FastExpReference.exp((x[i] + bias.getAtIndex(JAVA_FLOAT, i)) * alpha - shift);
                    assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(out.getAtIndex(JAVA_FLOAT, i)),
                            "element " + i + " of pass " + rep);
                    expectedSum += e;
                }
                assertEquals(expectedSum, sum, Math.abs(expectedSum) * 1e-5f);
                MemorySegment other = arena.allocate((long) x.length * 4, 64);
                float again = FastExp.expSum(alpha, in, 0, bias, 0, shift, other, 0, n);
                assertEquals(Float.floatToRawIntBits(sum), Float.floatToRawIntBits(again), "the sum is order-fixed");
            }
        }
    }

    @Test
    void expIsWithinTwoUlpsOfMathExpInsideTheClamp() {
        for (float x : inputs()) {
            if (x < -87f || x > 87f) continue;
            double exact = Math.exp(x);
            float got = FastExpReference.exp(x);
            assertTrue(Math.abs(got - exact) <= 2 * Math.ulp((float) exact), "exp(" + x + ") = " + got + " vs " + exact);
        }
    }

    @Test
    void outOfRangeInputsClampOrVanish() {
        assertEquals((float) Math.exp(87), FastExpReference.exp(1000f), Math.ulp((float) Math.exp(87)) * 2);
        assertEquals(0f, FastExpReference.exp(-1000f));
        assertEquals(0f, FastExpReference.exp(-87.5f));
        assertTrue(FastExpReference.exp(-87f) >= Float.MIN_NORMAL, "the smallest nonzero result is a normal float");
        assertEquals(1f, FastExpReference.tanh(50f));
        assertEquals(-1f, FastExpReference.tanh(-50f));
        assertEquals(1f, FastExpReference.sigmoid(100f));
        assertTrue(FastExpReference.sigmoid(-100f) < 1e-37f);
    }

    @Test
    void sigmoidAndTanhAreCloseToTheirDefinitions() {
        for (float x : inputs()) {
            assertEquals(1 / (1 + Math.exp(-x)), FastExpReference.sigmoid(x), 2e-7, "sigmoid " + x);
            // absolute: 1 - 2/(e^2x+1) cancels near 0; LSTM gates need absolute, not relative, accuracy
            assertEquals(Math.tanh(x), FastExpReference.tanh(x), 2e-7, "tanh " + x);
        }
    }
}
