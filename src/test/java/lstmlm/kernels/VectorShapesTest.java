package lstmlm.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class VectorShapesTest {
    private static final int N = VectorShapes.F.length();

    /** The kernels' lane sum: each fold of {@link VectorShapes#FOLDS} applied in turn, lane 0 read. */
    private static float foldedSum(float[] lanes) {
        FloatVector v = FloatVector.fromArray(VectorShapes.F, lanes, 0);
        for (var fold : VectorShapes.FOLDS) v = v.add(v.rearrange(fold));
        return v.lane(0);
    }

    @Test
    void foldsAddEveryLaneOnce() {
        float[] lanes = new float[N];
        float expected = 0;
        for (int i = 0; i < N; i++) {
            lanes[i] = 1 << i; // distinct powers of two: a lane left out or added twice changes the sum
            expected += lanes[i];
        }
        assertEquals(expected, foldedSum(lanes));
    }

    @Test
    void foldsAddInOneFixedOrder() {
        var rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            float[] lanes = new float[N];
            for (int i = 0; i < N; i++) lanes[i] = (float) rnd.nextGaussian() * (1 << rnd.nextInt(24));
            // the order the kernels' results depend on: lane i gains lane i + h (mod N) for h = N/2, N/4, …, 1
            float[] t = lanes.clone();
            for (int h = N / 2; h >= 1; h /= 2) {
                float[] u = new float[N];
                for (int i = 0; i < N; i++) u[i] = t[i] + t[(i + h) % N];
                t = u;
            }
            assertEquals(Float.floatToRawIntBits(t[0]), Float.floatToRawIntBits(foldedSum(lanes)), "trial " + trial);
        }
    }
}
