package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertClose;
import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.floats;
import static lstmlm.kernels.KernelTestSupport.get;
import static lstmlm.kernels.KernelTestSupport.random;
import static lstmlm.kernels.KernelTestSupport.set;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tolerances. Loss: each row's loss is log(sum) + max - z_t; the kernel sums exp in float lanes
 * (≤ V/32 terms per lane) where the reference sums in double, and exp differs by ~1 ulp, so the sum
 * and hence each row's loss agree to ~1e-6 absolute on losses of ~5: rtol 1e-5 of the total.
 * Gradients: softmax entries agree to a few ulps (rtol 1e-5); the target entry p - 1 is a
 * cancellation whose absolute error is a few ulps of gradScale, hence atol 1e-6 * gradScale
 * (times the number of rows for the summed dBias).
 */
class SoftmaxCrossEntropyTest {
    static final double RTOL = 1e-5;
    static final int L = VectorShapes.F.length();

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 17, 1001, 10000})
    void forwardBackwardMatchesReference(int vocab) {
        int rows = 6, rowStart = 1, rowEnd = 5, targetsOff = 2;
        long logitsOff = 3, biasOff = 5, dBiasOff = 1;
        float gradScale = 0.05f;
        SplittableRandom rnd = new SplittableRandom(vocab);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = random(arena, logitsOff + (long) rows * vocab + 4, rnd, -6f, 6f);
            MemorySegment bias = random(arena, biasOff + vocab, rnd, -1f, 1f);
            MemorySegment dBias = random(arena, dBiasOff + vocab, rnd, -1f, 1f); // += must keep these
            int[] targets = new int[targetsOff + rows];
            for (int i = 0; i < targets.length; i++) {
                targets[i] = rnd.nextInt(vocab);
            }
            MemorySegment logits2 = copyOf(arena, logits), dBias2 = copyOf(arena, dBias);
            MemorySegment untouched = copyOf(arena, logits);

            double loss = SoftmaxCrossEntropy.forwardBackward(logits, logitsOff, bias, biasOff, targets, targetsOff,
                    rowStart, rowEnd, vocab, gradScale, dBias, dBiasOff);
            double ref = SoftmaxCrossEntropyReference.forwardBackward(logits2, logitsOff, bias, biasOff, targets,
                    targetsOff, rowStart, rowEnd, vocab, gradScale, dBias2, dBiasOff);
            assertClose(ref, loss, RTOL, 0, "loss");
            assertClose(logits2, logits, RTOL, 1e-6 * gradScale, "gradient");
            assertClose(dBias2, dBias, RTOL, 1e-6 * gradScale * (rowEnd - rowStart), "dBias");
            // rows outside [rowStart, rowEnd) and the padding are not touched
            for (long i = 0; i < KernelTestSupport.size(logits); i++) {
                long r = (i - logitsOff) / vocab;
                boolean inside = i >= logitsOff && r >= rowStart && r < rowEnd;
                if (!inside) {
                    assertEquals(get(untouched, i), get(logits, i), "element " + i + " outside the rows");
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 17, 1001})
    void forwardMatchesReferenceAndForwardBackward(int vocab) {
        int rows = 4;
        SplittableRandom rnd = new SplittableRandom(vocab + 1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = random(arena, (long) rows * vocab, rnd, -6f, 6f);
            MemorySegment bias = random(arena, vocab, rnd, -1f, 1f);
            MemorySegment before = copyOf(arena, logits);
            int[] targets = rnd.ints(rows, 0, vocab).toArray();
            double ref = SoftmaxCrossEntropyReference.forward(logits, 0, bias, 0, targets, 0, 0, rows, vocab);
            MemorySegment scratch = floats(arena, vocab + 3);
            double loss = SoftmaxCrossEntropy.forward(logits, 0, bias, 0, targets, 0, 0, rows, vocab, scratch, 3);
            assertClose(ref, loss, RTOL, 0, "loss");
            assertSameFloats(before, logits, "forward only reads the logits");
            // the scratch row holds the last row's exp(z + b - max): its sum is the softmax denominator
            int r = rows - 1;
            double max = Double.NEGATIVE_INFINITY, sum = 0, held = 0;
            for (int k = 0; k < vocab; k++) max = Math.max(max, get(before, (long) r * vocab + k) + get(bias, k));
            for (int k = 0; k < vocab; k++) {
                sum += Math.exp(get(before, (long) r * vocab + k) + get(bias, k) - max);
                held += get(scratch, 3 + k);
            }
            assertClose(sum, held, 1e-5, 0, "scratch holds the exponentials");
            double fb = SoftmaxCrossEntropy.forwardBackward(before, 0, bias, 0, targets, 0, 0, rows, vocab, 1f,
                    floats(arena, vocab), 0);
            assertEquals(loss, fb, 1e-12, "forward and forwardBackward compute the same loss the same way");
        }
    }

    /** Same comparison after enough calls for C2 to compile the kernel. */
    @Test
    void compiledKernelMatchesReference() {
        int V = 1001, rows = 4;
        float gs = 0.1f;
        SplittableRandom rnd = new SplittableRandom(77);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment base = random(arena, (long) rows * V, rnd, -6f, 6f);
            MemorySegment bias = random(arena, V, rnd, -1f, 1f);
            int[] targets = rnd.ints(rows, 0, V).toArray();
            MemorySegment logits = copyOf(arena, base), dBias = floats(arena, V);
            double loss = 0;
            for (int rep = 0; rep < 1500; rep++) {
                logits.copyFrom(base);
                dBias.fill((byte) 0);
                loss = SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, targets, 0, 0, rows, V, gs, dBias, 0);
            }
            MemorySegment ref = copyOf(arena, base), dBiasRef = floats(arena, V);
            double refLoss = SoftmaxCrossEntropyReference.forwardBackward(ref, 0, bias, 0, targets, 0, 0, rows, V, gs,
                    dBiasRef, 0);
            assertClose(refLoss, loss, RTOL, 0, "loss");
            assertClose(ref, logits, RTOL, 1e-6 * gs, "gradient");
            assertClose(dBiasRef, dBias, RTOL, 1e-6 * gs * rows, "dBias");
        }
    }

    /** Row (1, 2, 3), target 2: loss = log(e + e² + e³) - 3; gradient = softmax - onehot. */
    @Test
    void handComputedThreeWordVocab() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = floats(arena, 3), bias = floats(arena, 3), dBias = floats(arena, 3);
            set(logits, 0, 0.5f);
            set(logits, 1, 2f);
            set(logits, 2, 3f);
            set(bias, 0, 0.5f); // logit 0 becomes 1 only through the bias
            double s = Math.exp(1) + Math.exp(2) + Math.exp(3);
            double loss = SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, new int[] {2}, 0, 0, 1, 3, 2f,
                    dBias, 0);
            assertClose(Math.log(s) - 3, loss, 1e-6, 0, "loss"); // = 0.40760596...
            double[] expected = {2 * Math.exp(1) / s, 2 * Math.exp(2) / s, 2 * (Math.exp(3) / s - 1)};
            for (int j = 0; j < 3; j++) {
                assertClose(expected[j], get(logits, j), 1e-6, 1e-7, "grad " + j);
                assertClose(expected[j], get(dBias, j), 1e-6, 1e-7, "dBias " + j);
            }
        }
    }

    /** All-zero logits over a vector-wide vocab: loss = log V per row, grad = scale*(1/V - onehot). */
    @Test
    void handComputedUniformRows() {
        int V = 3 * L + 5, rows = 2;
        float gs = 0.25f;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = floats(arena, (long) rows * V), bias = floats(arena, V), dBias = floats(arena, V);
            int[] targets = {V - 1, 3}; // one target in the scalar tail, one in a vector lane
            double loss = SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, targets, 0, 0, rows, V, gs, dBias, 0);
            assertClose(rows * Math.log(V), loss, 1e-6, 0, "loss");
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < V; j++) {
                    double e = gs * (1.0 / V - (j == targets[r] ? 1 : 0));
                    assertClose(e, get(logits, (long) r * V + j), 1e-6, 1e-8, "grad " + r + "," + j);
                }
            }
            for (int j = 0; j < V; j++) {
                double e = gs * (2.0 / V - (j == V - 1 ? 1 : 0) - (j == 3 ? 1 : 0));
                assertClose(e, get(dBias, j), 1e-6, 1e-8, "dBias " + j);
            }
        }
    }

    /** Logits of 1000 overflow exp without the max shift; two tied maxima give loss log 2. */
    @Test
    void largeLogitsAreShifted() {
        int V = 2 * L + 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = floats(arena, V), bias = floats(arena, V), dBias = floats(arena, V);
            for (int j = 0; j < V; j++) {
                set(logits, j, -1000f);
            }
            set(logits, 1, 1000f);
            set(logits, V - 1, 999.5f);
            set(bias, V - 1, 0.5f); // the second maximum is reached only through the bias
            double loss = SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, new int[] {1}, 0, 0, 1, V, 1f,
                    dBias, 0);
            assertClose(Math.log(2), loss, 1e-6, 0, "loss");
            assertClose(-0.5, get(logits, 1), 1e-6, 0, "target grad");
            assertClose(0.5, get(logits, V - 1), 1e-6, 0, "other max grad");
            assertEquals(0f, get(logits, 0), "vanishing prob");
        }
    }

    /**
     * The unique maximum (1000) sits in turn in each unrolled max accumulator, the single-vector loop
     * and the tail; the runner-up is 100 below, so a max that missed it would make exp overflow
     * (e^100 > Float.MAX_VALUE) and the loss NaN. Exact loss: log(1 + e^-100) ≈ 3.7e-44.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5})
    void maxIsFoundInEveryLoopPart(int where) {
        int V = 9 * L + 3; // two 4-vector blocks, one single vector, a 3-element tail
        int hot = where < 4 ? where * L + 1 : where == 4 ? 8 * L + 2 : V - 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = floats(arena, V), bias = floats(arena, V), dBias = floats(arena, V);
            for (int j = 0; j < V; j++) {
                set(logits, j, -1000f);
            }
            set(logits, hot, 1000f);
            set(logits, 0, 900f);
            MemorySegment before = copyOf(arena, logits);
            double fwd = SoftmaxCrossEntropy.forward(logits, 0, bias, 0, new int[] {hot}, 0, 0, 1, V, floats(arena, V), 0);
            assertClose(0, fwd, 0, 1e-30, "forward loss");
            double loss = SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, new int[] {hot}, 0, 0, 1, V, 1f,
                    dBias, 0);
            assertClose(0, loss, 0, 1e-30, "loss");
            for (int j = 0; j < V; j++) {
                assertClose(0, get(logits, j), 0, 1e-30, "grad " + j + " (logit " + get(before, j) + ")");
            }
        }
    }

    @Test
    void targetOutOfRangeThrowsAndWritesNothing() {
        int V = 17;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = random(arena, 2L * V, new SplittableRandom(1), -1f, 1f);
            MemorySegment before = copyOf(arena, logits);
            MemorySegment bias = floats(arena, V), dBias = floats(arena, V);
            assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0,
                    new int[] {0, V}, 0, 0, 2, V, 1f, dBias, 0));
            assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0,
                    new int[] {-1, 0}, 0, 0, 2, V, 1f, dBias, 0));
            assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.forward(logits, 0, bias, 0,
                    new int[] {3, V + 5}, 0, 0, 2, V, floats(arena, V), 0));
            assertSameFloats(before, logits, "logits");
            assertSameFloats(floats(arena, V), dBias, "dBias");
        }
    }

    /**
     * The gradient against central finite differences of the loss computed in double straight
     * from the definition, for every logit and bias entry of a few rows (eps 1e-4 in double: the
     * difference error is ~1e-8; the float kernel is good to ~1e-6).
     */
    @Test
    void gradientMatchesFiniteDifferencesOfTheDefinition() {
        int rows = 3, vocab = L + 5;
        float scale = 0.5f;
        SplittableRandom rnd = new SplittableRandom(17);
        double[] z = new double[rows * vocab], b = new double[vocab];
        for (int i = 0; i < z.length; i++) z[i] = (float) (rnd.nextDouble() * 6 - 3);
        for (int i = 0; i < vocab; i++) b[i] = (float) (rnd.nextDouble() - 0.5);
        int[] targets = {0, vocab - 1, L};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = floats(arena, z.length), bias = floats(arena, vocab), dBias = floats(arena, vocab);
            for (int i = 0; i < z.length; i++) set(logits, i, (float) z[i]);
            for (int i = 0; i < vocab; i++) set(bias, i, (float) b[i]);
            SoftmaxCrossEntropy.forwardBackward(logits, 0, bias, 0, targets, 0, 0, rows, vocab, scale, dBias, 0);
            double eps = 1e-4;
            for (int i = 0; i < z.length; i++) {
                double keep = z[i];
                z[i] = keep + eps;
                double plus = definition(z, b, targets, rows, vocab);
                z[i] = keep - eps;
                double minus = definition(z, b, targets, rows, vocab);
                z[i] = keep;
                assertClose(scale * (plus - minus) / (2 * eps), get(logits, i), 1e-4, 1e-6, "d logit " + i);
            }
            for (int k = 0; k < vocab; k++) {
                double keep = b[k];
                b[k] = keep + eps;
                double plus = definition(z, b, targets, rows, vocab);
                b[k] = keep - eps;
                double minus = definition(z, b, targets, rows, vocab);
                b[k] = keep;
                assertClose(scale * (plus - minus) / (2 * eps), get(dBias, k), 1e-4, 1e-6 * rows, "d bias " + k);
            }
        }
    }

    /** Σ_r −log softmax(z_r + b)[t_r], in double, without any max shift. */
    private static double definition(double[] z, double[] b, int[] targets, int rows, int vocab) {
        double loss = 0;
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int k = 0; k < vocab; k++) sum += Math.exp(z[r * vocab + k] + b[k]);
            loss += Math.log(sum) - (z[r * vocab + targets[r]] + b[targets[r]]);
        }
        return loss;
    }
}
