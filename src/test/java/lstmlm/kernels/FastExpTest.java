package lstmlm.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static lstmlm.kernels.VectorShapes.F;
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
    void vectorAndScalarFormsGiveTheSameBits() {
        float[] x = inputs();
        float[] out = new float[F.length()];
        // warm the vector path so C2 compiles it: the point is that compiled and scalar agree
        for (int rep = 0; rep < 3; rep++) {
            for (int i = 0; i + F.length() <= x.length; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, i);
                FastExp.exp(v).intoArray(out, 0);
                for (int k = 0; k < out.length; k++) {
                    assertEquals(Float.floatToRawIntBits(FastExp.exp(x[i + k])), Float.floatToRawIntBits(out[k]), "exp " + x[i + k]);
                }
                FastExp.tanh(v).intoArray(out, 0);
                for (int k = 0; k < out.length; k++) {
                    assertEquals(Float.floatToRawIntBits(FastExp.tanh(x[i + k])), Float.floatToRawIntBits(out[k]), "tanh " + x[i + k]);
                }
                FastExp.sigmoid(v).intoArray(out, 0);
                for (int k = 0; k < out.length; k++) {
                    assertEquals(Float.floatToRawIntBits(FastExp.sigmoid(x[i + k])), Float.floatToRawIntBits(out[k]), "sigmoid " + x[i + k]);
                }
            }
        }
    }

    @Test
    void expIsWithinTwoUlpsOfMathExpInsideTheClamp() {
        for (float x : inputs()) {
            if (x < -87f || x > 87f) continue;
            double exact = Math.exp(x);
            float got = FastExp.exp(x);
            assertTrue(Math.abs(got - exact) <= 2 * Math.ulp((float) exact), "exp(" + x + ") = " + got + " vs " + exact);
        }
    }

    @Test
    void clampedInputsStayFiniteAndNormal() {
        assertEquals((float) Math.exp(87), FastExp.exp(1000f), Math.ulp((float) Math.exp(87)) * 2);
        assertEquals(0f, FastExp.exp(-1000f));
        assertEquals(0f, FastExp.exp(-87.5f));
        assertTrue(FastExp.exp(-87f) >= Float.MIN_NORMAL, "the smallest nonzero result is a normal float");
        assertEquals(1f, FastExp.tanh(50f));
        assertEquals(-1f, FastExp.tanh(-50f));
        assertEquals(1f, FastExp.sigmoid(100f));
        assertTrue(FastExp.sigmoid(-100f) < 1e-37f);
    }

    @Test
    void sigmoidAndTanhAreCloseToTheirDefinitions() {
        for (float x : inputs()) {
            assertEquals(1 / (1 + Math.exp(-x)), FastExp.sigmoid(x), 2e-7, "sigmoid " + x);
            // absolute: 1 - 2/(e^2x+1) cancels near 0; LSTM gates need absolute, not relative, accuracy
            assertEquals(Math.tanh(x), FastExp.tanh(x), 2e-7, "tanh " + x);
        }
    }
}
