package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;
import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Softmax over the vocabulary fused with cross-entropy and its gradient.
 *
 * <p>logits: [rows x V], row r at {@code logitsOff + r*V}; bias: [V] added to every row before the
 * softmax (it is never folded into the logits in memory). Each row takes three passes: max, then
 * exp(z - max) stored over the row while summing, then scale. A 10k-float row (40 KB) stays in L2
 * between passes, so the extra passes cost little and the shift keeps exp from overflowing.
 */
public final class SoftmaxCrossEntropy {
    private SoftmaxCrossEntropy() {}

    /**
     * Returns the summed loss -log softmax(logits_r + bias)[target_r] over rows [rowStart, rowEnd),
     * target_r = targets[targetsOff + r]. Overwrites each row with
     * gradScale * (softmax(row + bias) - onehot(target)) and adds that row into dBias[V], so each
     * thread can own a partial dBias and a disjoint row range.
     */
    public static double forwardBackward(MemorySegment logits, long logitsOff, MemorySegment bias, long biasOff,
                                         int[] targets, int targetsOff, int rowStart, int rowEnd, int vocab,
                                         float gradScale, MemorySegment dBias, long dBiasOff) {
        checkArgs(targets, targetsOff, rowStart, rowEnd, vocab);
        final int V = vocab;
        final int upper = F.loopBound(V);
        double loss = 0;
        for (int r = rowStart; r < rowEnd; r++) {
            final long row = logitsOff + (long) r * V;
            final int t = targets[targetsOff + r];
            final float zt = get(logits, row + t) + get(bias, biasOff + t); // read before pass 2 overwrites it
            final float max = max(logits, row, bias, biasOff, V);
            final float sum = FastExp.expSum(1f, logits, row, bias, biasOff, max, logits, row, V);
            loss += Math.log(sum) - ((double) zt - max);

            // pass 3: row = e * (gradScale/sum), accumulated into dBias; one-hot handled after
            final float scale = gradScale / sum;
            final FloatVector vs = FloatVector.broadcast(F, scale);
            int j = 0;
            for (; j < upper; j += F.length()) {
                FloatVector gv = FloatVector.fromMemorySegment(F, logits, 4 * (row + j), NATIVE).mul(vs);
                gv.intoMemorySegment(logits, 4 * (row + j), NATIVE);
                FloatVector db = FloatVector.fromMemorySegment(F, dBias, 4 * (dBiasOff + j), NATIVE);
                db.add(gv).intoMemorySegment(dBias, 4 * (dBiasOff + j), NATIVE);
            }
            for (; j < V; j++) {
                float gv = get(logits, row + j) * scale;
                set(logits, row + j, gv);
                set(dBias, dBiasOff + j, get(dBias, dBiasOff + j) + gv);
            }
            set(logits, row + t, get(logits, row + t) - gradScale);
            set(dBias, dBiasOff + t, get(dBias, dBiasOff + t) - gradScale);
        }
        return loss;
    }

    /**
     * Loss only, same arguments as {@link #forwardBackward} minus the gradient ones; the logits are
     * only read. Each row's exp(logit + bias − max) goes to {@code scratch[V]} (one per thread),
     * which stays in L1/L2: written over the logits instead, evaluation pushed 16 MB of dirty
     * lines back to memory per {@code small} window for values nobody reads again. The loss of a
     * row is {@link #logSumExp} minus the target's logit + bias.
     */
    public static double forward(MemorySegment logits, long logitsOff, MemorySegment bias, long biasOff,
                                 int[] targets, int targetsOff, int rowStart, int rowEnd, int vocab,
                                 MemorySegment scratch, long scratchOff) {
        checkArgs(targets, targetsOff, rowStart, rowEnd, vocab);
        final int V = vocab;
        double loss = 0;
        for (int r = rowStart; r < rowEnd; r++) {
            final long row = logitsOff + (long) r * V;
            final int t = targets[targetsOff + r];
            final float zt = get(logits, row + t) + get(bias, biasOff + t);
            loss += logSumExp(logits, row, bias, biasOff, V, scratch, scratchOff) - zt;
        }
        return loss;
    }

    /**
     * log Σ_j exp(x[j] + b[j]) over j in [0, n), shifted by the maximum so nothing overflows; the
     * shifted exponentials are left in {@code scratch[n]}. The engine's one softmax normaliser:
     * training's evaluation ({@link #forward}), the inference session and the batch scorer all use it.
     */
    public static double logSumExp(MemorySegment x, long xOff, MemorySegment b, long bOff, int n,
                                   MemorySegment scratch, long scratchOff) {
        final float max = max(x, xOff, b, bOff, n);
        final float sum = FastExp.expSum(1f, x, xOff, b, bOff, max, scratch, scratchOff, n);
        return max + Math.log(sum);
    }

    /** max_j (x[j] + b[j]) over j in [0, n), n ≥ 1; four accumulators hide the latency of the max chain. */
    public static float max(MemorySegment x, long xOff, MemorySegment b, long bOff, int n) {
        final int L = F.length();
        final int upper4 = n - n % (4 * L); // F.loopBound works in multiples of L only
        final long xb = 4 * xOff, bb = 4 * bOff, step = 4L * L; // byte offsets
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j < upper4; j += 4 * L) {
            final long jb = 4L * j; // byte offset of column j
            FloatVector x0 = FloatVector.fromMemorySegment(F, x, xb + jb, NATIVE);
            FloatVector x1 = FloatVector.fromMemorySegment(F, x, xb + jb + step, NATIVE);
            FloatVector x2 = FloatVector.fromMemorySegment(F, x, xb + jb + 2 * step, NATIVE);
            FloatVector x3 = FloatVector.fromMemorySegment(F, x, xb + jb + 3 * step, NATIVE);
            m0 = m0.max(x0.add(FloatVector.fromMemorySegment(F, b, bb + jb, NATIVE)));
            m1 = m1.max(x1.add(FloatVector.fromMemorySegment(F, b, bb + jb + step, NATIVE)));
            m2 = m2.max(x2.add(FloatVector.fromMemorySegment(F, b, bb + jb + 2 * step, NATIVE)));
            m3 = m3.max(x3.add(FloatVector.fromMemorySegment(F, b, bb + jb + 3 * step, NATIVE)));
        }
        for (final int upper = F.loopBound(n); j < upper; j += L) {
            final long jb = 4L * j; // byte offset of column j
            FloatVector x0 = FloatVector.fromMemorySegment(F, x, xb + jb, NATIVE);
            m0 = m0.max(x0.add(FloatVector.fromMemorySegment(F, b, bb + jb, NATIVE)));
        }
        float m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            m = Math.max(m, get(x, xOff + j) + get(b, bOff + j));
        }
        return m;
    }

    /** Validates every target up front so a bad id leaves the logits untouched. */
    static void checkArgs(int[] targets, int targetsOff, int rowStart, int rowEnd, int vocab) {
        if (vocab <= 0) {
            throw new IllegalArgumentException("vocab must be > 0, got " + vocab);
        }
        if (rowStart < 0 || rowEnd < rowStart) {
            throw new IllegalArgumentException("bad row range [" + rowStart + ", " + rowEnd + ")");
        }
        if (rowEnd > rowStart && (targetsOff < 0 || (long) targetsOff + rowEnd > targets.length)) {
            throw new IllegalArgumentException("targets[" + targetsOff + " + [" + rowStart + ", " + rowEnd
                    + ")] is out of bounds for length " + targets.length);
        }
        for (int r = rowStart; r < rowEnd; r++) {
            int t = targets[targetsOff + r];
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("target " + t + " at targets[" + (targetsOff + r)
                        + "] is outside [0, " + vocab + ")");
            }
        }
    }
}
