package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The engine's one exponential: a loop over memory, in a vector body and a scalar tail that give
 * the same bits, built only from IEEE add, multiply, fused multiply-add and bit moves.
 *
 * <p>Why not {@code VectorOperators.EXP}: its result depends on how the code runs. Interpreted or
 * C1-compiled it falls back to {@code Math.exp} lane by lane; C2 calls a vector math library that
 * rounds differently in the last bit. A training run would then depend on JIT timing, and "same
 * seed, same numbers" would not hold. Every operation used here is correctly rounded, so every
 * tier agrees. (The scalar twin that tests check every lane against is FastExpReference.)
 *
 * <p>Why a loop over memory rather than a {@code FloatVector exp(FloatVector)} helper: a vector
 * that crosses a call C2 declines to inline (it declines once the callee is compiled on its own
 * and large) is boxed on the heap, hundreds of kilobytes per LSTM step. Here no vector crosses a
 * call.
 *
 * <p>exp(x) = 2^n · p(r) with n = round(x·log2 e), r = x − n·ln 2 (in two parts, so r is exact to
 * float precision) and p the degree-7 Taylor polynomial of e^r on |r| ≤ ln2/2 (truncation error
 * below 5e-9, under one ulp). Arguments above 87 are clamped (no infinities); below −87 the result
 * is exactly 0, as the true value would be subnormal or underflow anyway.
 */
public final class FastExp {
    private FastExp() {}

    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693359375f;           // few mantissa bits: n·LN2_HI is exact
    static final float LN2_LO = -2.12194440e-4f;         // ln 2 − LN2_HI
    static final float ROUND = 12582912f;                // 1.5·2^23: adding it rounds to an integer
    static final float LO = -87f, HI = 87f;
    static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /**
     * e_j = exp(alpha · (x_j + bias_j) − shift) for j in [0, n), stored into {@code out} (may be
     * {@code x} itself); returns Σ e_j, summed in a fixed order. Offsets in floats. (exp(2x) is
     * {@code expSum(1, x, .., x, ..)}: pass x as its own bias.)
     *
     * <p>No parameter is optional and the loop has no branch: C2 speculated on such loop-invariant
     * branches ("profile predicates") and, when a caller took the other side, fell into a cycle of
     * deoptimising and recompiling that ran the kernel at interpreter speed for tens of seconds.
     */
    public static float expSum(float alpha, MemorySegment x, long xOff, MemorySegment bias, long biasOff,
                               float shift, MemorySegment out, long outOff, int n) {
        final int L = F.length();
        final int upper = F.loopBound(n);
        final FloatVector va = FloatVector.broadcast(F, alpha), vs = FloatVector.broadcast(F, shift);
        final FloatVector lo = FloatVector.broadcast(F, LO), hi = FloatVector.broadcast(F, HI);
        final FloatVector log2e = FloatVector.broadcast(F, LOG2E), round = FloatVector.broadcast(F, ROUND);
        final FloatVector ln2hi = FloatVector.broadcast(F, -LN2_HI), ln2lo = FloatVector.broadcast(F, -LN2_LO);
        final FloatVector zero = FloatVector.zero(F), one = FloatVector.broadcast(F, 1f);
        final FloatVector c2 = FloatVector.broadcast(F, C2), c3 = FloatVector.broadcast(F, C3),
                c4 = FloatVector.broadcast(F, C4), c5 = FloatVector.broadcast(F, C5),
                c6 = FloatVector.broadcast(F, C6), c7 = FloatVector.broadcast(F, C7);
        FloatVector sum = zero;
        int j = 0;
        for (; j < upper; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(F, x, 4 * (xOff + j), NATIVE);
            v = v.add(FloatVector.fromMemorySegment(F, bias, 4 * (biasOff + j), NATIVE)).mul(va).sub(vs);
            VectorMask<Float> underflow = v.lt(lo);
            v = v.max(lo).min(hi);
            FloatVector k = v.mul(log2e).add(round).sub(round);
            FloatVector r = k.fma(ln2hi, v);
            r = k.fma(ln2lo, r);
            FloatVector p = c7.fma(r, c6).fma(r, c5).fma(r, c4).fma(r, c3).fma(r, c2).fma(r, one).fma(r, one);
            IntVector bits = ((IntVector) k.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            FloatVector e = p.mul(bits.reinterpretAsFloats()).blend(zero, underflow);
            e.intoMemorySegment(out, 4 * (outOff + j), NATIVE);
            sum = sum.add(e);
        }
        for (var fold : VectorShapes.FOLDS) sum = sum.add(sum.rearrange(fold));
        float s = sum.lane(0);
        if (j < n) s = expTail(alpha, x, xOff, bias, biasOff, shift, out, outOff, j, n, s);
        return s;
    }

    /**
     * The last n − j (< one vector) elements of {@link #expSum} as one masked vector: the scalar
     * {@link #exp} gives the same bits but an element at a time, and a cell row of H = 200 ends in
     * an 8-element tail five times (docs/performance.md). Its own method, so the
     * masks do not add to the register pressure of the main loop, which C1 must still compile.
     */
    private static float expTail(float alpha, MemorySegment x, long xOff, MemorySegment bias, long biasOff,
                                 float shift, MemorySegment out, long outOff, int j, int n, float s) {
        final VectorMask<Float> live = F.indexInRange(j, n);
        final FloatVector zero = FloatVector.zero(F), one = FloatVector.broadcast(F, 1f);
        FloatVector v = FloatVector.fromMemorySegment(F, x, 4 * (xOff + j), NATIVE, live);
        v = v.add(FloatVector.fromMemorySegment(F, bias, 4 * (biasOff + j), NATIVE, live))
                .mul(FloatVector.broadcast(F, alpha)).sub(FloatVector.broadcast(F, shift));
        VectorMask<Float> zeroed = v.lt(FloatVector.broadcast(F, LO)).or(live.not());
        v = v.max(FloatVector.broadcast(F, LO)).min(FloatVector.broadcast(F, HI));
        FloatVector k = v.mul(FloatVector.broadcast(F, LOG2E)).add(FloatVector.broadcast(F, ROUND)).sub(FloatVector.broadcast(F, ROUND));
        FloatVector r = k.fma(FloatVector.broadcast(F, -LN2_HI), v);
        r = k.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, C7).fma(r, FloatVector.broadcast(F, C6)).fma(r, FloatVector.broadcast(F, C5))
                .fma(r, FloatVector.broadcast(F, C4)).fma(r, FloatVector.broadcast(F, C3)).fma(r, FloatVector.broadcast(F, C2))
                .fma(r, one).fma(r, one);
        IntVector bits = ((IntVector) k.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector e = p.mul(bits.reinterpretAsFloats()).blend(zero, zeroed);
        e.intoMemorySegment(out, 4 * (outOff + j), NATIVE, live);
        // added to the running sum one by one in index order, exactly as the scalar loop did; read
        // back from memory, since lane(i) with a variable i is a 16-way switch per element
        for (int i = j; i < n; i++) s += out.getAtIndex(VectorShapes.FLOAT, outOff + i);
        return s;
    }
}
