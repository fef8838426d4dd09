package lstmlm.kernels;

import static lstmlm.kernels.FastExp.C2;
import static lstmlm.kernels.FastExp.C3;
import static lstmlm.kernels.FastExp.C4;
import static lstmlm.kernels.FastExp.C5;
import static lstmlm.kernels.FastExp.C6;
import static lstmlm.kernels.FastExp.C7;
import static lstmlm.kernels.FastExp.HI;
import static lstmlm.kernels.FastExp.LN2_HI;
import static lstmlm.kernels.FastExp.LN2_LO;
import static lstmlm.kernels.FastExp.LO;
import static lstmlm.kernels.FastExp.LOG2E;
import static lstmlm.kernels.FastExp.ROUND;

/** {@link FastExp}'s arithmetic one float at a time: what every lane of its vector loop must equal, bit for bit. */
public final class FastExpReference {
    private FastExpReference() {}

    /** The scalar form, bit for bit the same as a lane of {@link #expSum}. */
    public static float exp(float x) {
        if (x < LO) return 0f;
        x = Math.min(x, HI);
        float k = x * LOG2E + ROUND - ROUND;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(C7, r, C6), r, C5), r, C4),
                r, C3), r, C2), r, 1f), r, 1f);
        return p * Float.intBitsToFloat(((int) k + 127) << 23);
    }

    /** σ(x) = 1 / (1 + e^−x), from the same exp. */
    public static float sigmoid(float x) {
        return 1f / (1f + exp(-x));
    }

    /** tanh(x) = 1 − 2 / (e^2x + 1): exact limits ±1; absolute error ~1e-7 near 0. */
    public static float tanh(float x) {
        return 1f - 2f / (exp(x + x) + 1f);
    }
}
