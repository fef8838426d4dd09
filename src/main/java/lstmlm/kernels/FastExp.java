package lstmlm.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, sigmoid and tanh built only from IEEE add, multiply, fused multiply-add and bit moves, in
 * a vector form and a scalar form that give the same bits.
 *
 * <p>Why not {@code VectorOperators.EXP}/{@code TANH}: their result depends on how the code runs.
 * Interpreted or C1-compiled, they fall back to {@code Math.exp} lane by lane; C2 calls a vector
 * math library that rounds differently in the last bit. A training run would then depend on JIT
 * timing, and "same seed, same numbers" would not hold. Every operation used here is correctly
 * rounded, so the interpreter, C1, C2 and the scalar tail all agree.
 *
 * <p>exp(x) = 2^n · p(r) with n = round(x·log2 e), r = x − n·ln 2 (in two parts, so r is exact
 * to float precision) and p the degree-7 Taylor polynomial of e^r on |r| ≤ ln2/2 (truncation
 * error below 5e-9, under one ulp). Inputs above 87 are clamped (no infinities); below −87 the
 * result is exactly 0, as the true value would be a subnormal or underflow anyway.
 */
public final class FastExp {
    private FastExp() {}

    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693359375f;           // few mantissa bits: n·LN2_HI is exact
    static final float LN2_LO = -2.12194440e-4f;         // ln 2 − LN2_HI
    static final float ROUND = 12582912f;                // 1.5·2^23: adding it rounds to an integer
    static final float LO = -87f, HI = 87f;
    static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    public static FloatVector exp(FloatVector x) {
        var s = x.species();
        var underflow = x.lt(LO);
        x = x.max(LO).min(HI);
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(s, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(s, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(s, C7);
        p = p.fma(r, FloatVector.broadcast(s, C6));
        p = p.fma(r, FloatVector.broadcast(s, C5));
        p = p.fma(r, FloatVector.broadcast(s, C4));
        p = p.fma(r, FloatVector.broadcast(s, C3));
        p = p.fma(r, FloatVector.broadcast(s, C2));
        p = p.fma(r, FloatVector.broadcast(s, 1f));
        p = p.fma(r, FloatVector.broadcast(s, 1f));
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats()).blend(0f, underflow);
    }

    public static float exp(float x) {
        if (x < LO) return 0f;
        x = Math.min(x, HI);
        float n = x * LOG2E + ROUND - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = C7;
        p = Math.fma(p, r, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** σ(x) = 1 / (1 + e^−x). */
    public static FloatVector sigmoid(FloatVector x) {
        FloatVector one = FloatVector.broadcast(x.species(), 1f);
        return one.div(exp(x.neg()).add(one));
    }

    public static float sigmoid(float x) {
        return 1f / (1f + exp(-x));
    }

    /** tanh(x) = 1 − 2 / (e^2x + 1): exact limits ±1; absolute error ~1e-7 near 0, where LSTMs don't care. */
    public static FloatVector tanh(FloatVector x) {
        FloatVector one = FloatVector.broadcast(x.species(), 1f);
        return one.sub(FloatVector.broadcast(x.species(), 2f).div(exp(x.add(x)).add(one)));
    }

    public static float tanh(float x) {
        return 1f - 2f / (exp(x + x) + 1f);
    }
}
