package lstmlm.model;

import lstmlm.kernels.Dropout;

import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's hand-written backward pass against central finite differences of the
 * double-precision {@link ReferenceModel}, for every parameter of a tiny model, on a window that
 * starts from a carried (nonzero) state and with dropout masks fixed by the seed. Every
 * parameter of the tiny models; a random sample of each tensor of the one wide enough to split
 * its hidden units between workers.
 */
class GradientCheckTest {

    @ParameterizedTest(name = "V={0} H={1} L={2} B={3} T={4} keep={5} workers={6} sample={7}")
    @CsvSource({
            "11, 5, 2, 3, 4, 0.7, 2, 0",
            "13, 4, 1, 2, 3, 1.0, 1, 0",
            "7, 3, 3, 4, 2, 0.5, 2, 0",
            // more rows than the few-row kernel takes: the recurrent products go through OpenBLAS
            "7, 3, 1, 33, 2, 1.0, 2, 0",
            // several panels of hidden units, split between two workers, and rows not a multiple
            // of the kernel's 4: too many parameters for all, so 60 random ones per tensor
            "11, 100, 2, 5, 3, 0.7, 2, 60",
    })
    void everyParameterGradientMatchesFiniteDifferences(int vocab, int hidden, int layers, int batch, int steps,
                                                        float keep, int threads, int sample) {
        checkGradients(new ModelShape(vocab, hidden, layers), batch, steps, keep, threads, sample);
    }

    /**
     * The adaptive softmax's head, projections, cluster weights and biases (and everything below them)
     * against the reference's adaptive softmax, written from its definition: several clusters with
     * projections narrowed by div, a head of only cluster logits (cutoff 0), div 1.
     */
    @ParameterizedTest(name = "adaptive V={0} H={1} L={2} cutoffs={3} div={4} B={5} T={6} keep={7} workers={8}")
    @CsvSource({
            "20, 8, 2, 5 12, 2, 3, 4, 0.7, 2",
            "20, 8, 1, 0, 1, 3, 4, 1.0, 1",
            "23, 9, 1, 3 7 15, 4, 4, 3, 1.0, 2",
            // more rows than the few-row kernel, head and clusters split over two workers
            "30, 6, 1, 10 20, 2, 33, 2, 0.8, 2",
    })
    void adaptiveSoftmaxGradientsMatchFiniteDifferences(int vocab, int hidden, int layers, String cutoffs, int div, int batch,
                                                        int steps, float keep, int threads) {
        checkGradients(new ModelShape(vocab, hidden, layers, false, adaptive(cutoffs, div)), batch, steps, keep, threads, 0);
    }

    /**
     * The adaptive softmax's tail dropout (keep_prob_tail): each cluster's projected units scaled by a mask
     * the reference draws itself from the window's seed (stream 3000 + cluster, element row·D + unit), so
     * the gathered rows' masks, their place in the cluster's mask and the masked backward are all checked;
     * with the layer outputs dropped too, and with more rows than the few-row kernel over two workers.
     */
    @ParameterizedTest(name = "adaptive tail dropout V={0} H={1} L={2} cutoffs={3} div={4} B={5} T={6} keep={7} tail keep={8} workers={9}")
    @CsvSource({
            "20, 8, 2, 5 12, 2, 3, 4, 1.0, 0.6, 2",
            "23, 9, 1, 3 7 15, 1, 4, 3, 0.8, 0.5, 1",
            "30, 6, 1, 10 20, 2, 33, 2, 1.0, 0.7, 2",
    })
    void adaptiveTailDropoutGradientsMatchFiniteDifferences(int vocab, int hidden, int layers, String cutoffs, int div, int batch,
                                                           int steps, float keep, float tailKeep, int threads) {
        ModelShape shape = new ModelShape(vocab, hidden, layers, false, adaptive(cutoffs, div));
        DropoutPlan d = DropoutPlan.tensorFlow(keep).withTail(tailKeep);
        SplittableRandom random = new SplittableRandom(vocab * 41L + hidden);
        long seed = 78;
        try (Engine e = new Engine(shape, threads)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(batch, steps, d);
            m.initialize(5, 0.6f);
            m.parametersChanged();
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            float[] state = w.state();
            double engineLoss = e.trainWindow(w, d, seed);
            int rows = batch * steps;
            float[][] masks = new float[layers + 1][];
            if (keep < 1f) {
                masks[0] = read(w.acts, w.mask0, rows * hidden);
                for (int l = 0; l < layers; l++) masks[l + 1] = read(w.acts, w.mask[l], rows * hidden);
            }
            var a = shape.adaptive();
            int[] dropped = {0};
            ReferenceModel.TailMask tail = (cluster, row, unit) -> {
                float s = Dropout.scale(Dropout.splitSeed(seed, 3000 + cluster), row * a.projection(cluster, hidden) + unit, tailKeep);
                if (s == 0f) dropped[0]++;
                return s;
            };
            ReferenceModel.Noise noise = new ReferenceModel.Noise(masks, null, null, 0, tail);
            ReferenceModel ref = new ReferenceModel(shape);
            double[] p = new double[(int) m.layout.size];
            for (int i = 0; i < p.length; i++) p[i] = m.params.getAtIndex(JAVA_FLOAT, i);
            double refLoss = ref.loss(p, w.inputs, w.targets, batch, steps, state, noise);
            assertEquals(refLoss, engineLoss, 1e-5 * Math.abs(refLoss), "window loss");
            assertTrue(dropped[0] > 0, "the test wants a dropped tail unit");
            double noTail = ref.loss(p, w.inputs, w.targets, batch, steps, state, new ReferenceModel.Noise(masks, null, null, 0));
            assertTrue(Math.abs(noTail - refLoss) > 1e-5 * Math.abs(refLoss), "the tail masks change the loss by more than the check's tolerance: " + noTail + " " + refLoss);
            assertEveryGradientIsTheReferences(m, ref, p, w, batch, steps, state, noise);
        }
    }

    static lstmlm.modelfile.AdaptiveSoftmax adaptive(String cutoffs, int div) {
        return new lstmlm.modelfile.AdaptiveSoftmax(java.util.Arrays.stream(cutoffs.trim().split(" +")).map(Integer::valueOf).toList(), div);
    }

    private static void checkGradients(ModelShape shape, int batch, int steps, float keep, int threads, int sample) {
        int vocab = shape.vocab(), hidden = shape.hidden(), layers = shape.layers();
        SplittableRandom random = new SplittableRandom(vocab * 31L + hidden);
        try (Engine e = new Engine(shape, threads)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(batch, steps, DropoutPlan.tensorFlow(keep));
            m.initialize(5, 0.6f);
            // the LSTM biases start at zero; give them values so their gradient path is exercised
            for (int l = 0; l < layers; l++) {
                for (int k = 0; k < 4 * hidden; k++) {
                    m.params.setAtIndex(JAVA_FLOAT, m.layout.bias(l) + k, (float) (random.nextDouble() - 0.5));
                }
            }
            // a first window leaves a nonzero carried state behind
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            e.trainWindow(w, keep, 77);
            m.grads.fill((byte) 0);

            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            float[] state = w.state();
            double engineLoss = e.trainWindow(w, keep, 78);

            float[][] masks = null;
            if (keep < 1f) {
                masks = new float[layers + 1][];
                masks[0] = read(w.acts, w.mask0, batch * steps * hidden);
                for (int l = 0; l < layers; l++) masks[l + 1] = read(w.acts, w.mask[l], batch * steps * hidden);
            }
            ReferenceModel ref = new ReferenceModel(shape);
            double[] p = new double[(int) m.layout.size];
            for (int i = 0; i < p.length; i++) p[i] = m.params.getAtIndex(JAVA_FLOAT, i);

            double refLoss = ref.loss(p, w.inputs, w.targets, batch, steps, state, masks);
            assertEquals(refLoss, engineLoss, 1e-5 * Math.abs(refLoss), "window loss");

            // the engine's gradient is of the window cost Σ_t mean_b CE = loss / B
            double eps = 1e-5;
            int checked = 0;
            long expected = 0;
            for (ParameterLayout.Tensor t : m.layout.tensors()) {
                boolean all = sample == 0 || t.size() <= sample;
                long count = all ? t.size() : sample;
                expected += count;
                for (long n = 0; n < count; n++) {
                    long k = all ? n : random.nextLong(t.size());
                    int i = (int) (t.offset() + k);
                    double numeric = centralDifference(ref, p, i, eps, w, batch, steps, state,
                            new ReferenceModel.Noise(masks, null, null, 0));
                    double analytic = m.grads.getAtIndex(JAVA_FLOAT, i);
                    // float32 engine against a double reference: the gap is float rounding in
                    // sums of a few dozen terms, far below 1e-4 absolute at these magnitudes
                    assertEquals(numeric, analytic, 1e-4 + 2e-3 * Math.abs(numeric),
                            t.name() + "[" + k + "]");
                    checked++;
                }
            }
            assertEquals(expected, checked);
        }
    }

    /**
     * The 2016-17 additions, each alone and all together, against the double reference: tied
     * embeddings (the softmax's gradient joins the input side's in E), variational masks (one per
     * sequence, repeated over the steps), recurrent dropout on h_{t−1} (forward product and its
     * backward both masked, dW_rec from the masked h), word dropout (rows scaled per word and
     * sequence) and weight decay (its gradient added by the update's own code). Every parameter.
     */
    @ParameterizedTest(name = "V={0} H={1} L={2} B={3} T={4} tied={5} keep in/hid/out/rec/words={6}/{7}/{8}/{9}/{10} variational={11} decay={12}")
    @CsvSource({
            "11, 5, 2, 3, 4, true,  1.0, 1.0, 1.0, 1.0, 1.0, false, 0,     2",
            "11, 5, 2, 3, 4, true,  0.7, 0.6, 0.8, 1.0, 1.0, false, 0,     2",
            "11, 5, 2, 3, 4, false, 0.7, 0.6, 0.8, 1.0, 1.0, true,  0,     2",
            "11, 5, 2, 3, 4, false, 1.0, 1.0, 1.0, 0.6, 1.0, true,  0,     2",
            "11, 5, 2, 3, 4, false, 1.0, 1.0, 1.0, 1.0, 0.5, true,  0,     1",
            "11, 5, 2, 3, 4, false, 1.0, 1.0, 1.0, 1.0, 1.0, false, 0.01,  2",
            "13, 6, 2, 4, 3, true,  0.7, 0.6, 0.5, 0.6, 0.7, true,  0.003, 2",
            // more rows than the few-row kernel takes: the masked recurrent products go through OpenBLAS
            "7, 3, 1, 33, 2, true,  1.0, 1.0, 1.0, 0.7, 1.0, true,  0,     2",
    })
    void regularisedAndTiedGradientsMatchFiniteDifferences(int vocab, int hidden, int layers, int batch, int steps,
                                                         boolean tied, float input, float hiddenKeep, float output,
                                                         float recurrent, float words, boolean variational,
                                                         float decay, int threads) {
        ModelShape shape = new ModelShape(vocab, hidden, layers, tied);
        DropoutPlan d = new DropoutPlan(input, hiddenKeep, output, recurrent, words, variational);
        SplittableRandom random = new SplittableRandom(vocab * 37L + hidden + (tied ? 1 : 0));
        try (Engine e = new Engine(shape, threads)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(batch, steps, d);
            m.initialize(5, 0.6f);
            for (int l = 0; l < layers; l++) {
                for (int k = 0; k < 4 * hidden; k++) {
                    m.params.setAtIndex(JAVA_FLOAT, m.layout.bias(l) + k, (float) (random.nextDouble() - 0.5));
                }
            }
            m.parametersChanged();
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            e.trainWindow(w, d, 77);
            m.grads.fill((byte) 0);
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            float[] state = w.state();
            double engineLoss = e.trainWindow(w, d, 78);
            m.addWeightDecay(decay, e.workers);

            int rows = batch * steps;
            float[][] masks = new float[layers + 1][];
            if (input < 1f) masks[0] = read(w.acts, w.mask0, rows * hidden);
            for (int l = 0; l < layers; l++) {
                if (w.outputDropped[l]) masks[l + 1] = read(w.acts, w.mask[l], rows * hidden);
            }
            float[][] recurrentMasks = null;
            if (recurrent < 1f) {
                recurrentMasks = new float[layers][];
                for (int l = 0; l < layers; l++) recurrentMasks[l] = read(w.acts, w.recMask[l], batch * hidden);
            }
            float[] wordScale = words < 1f ? w.wordScale.clone() : null;
            if (variational && input < 1f) {
                for (int r = batch; r < rows; r++) {
                    for (int j = 0; j < hidden; j++) {
                        assertEquals(masks[0][(r % batch) * hidden + j], masks[0][r * hidden + j], "one mask per sequence");
                    }
                }
            }
            if (wordScale != null) {
                boolean dropped = false;
                for (float f : wordScale) dropped |= f == 0f;
                assertTrue(dropped, "the test wants a dropped word");
            }
            ReferenceModel.Noise noise = new ReferenceModel.Noise(masks, recurrentMasks, wordScale, decay);
            ReferenceModel ref = new ReferenceModel(shape);
            double[] p = new double[(int) m.layout.size];
            for (int i = 0; i < p.length; i++) p[i] = m.params.getAtIndex(JAVA_FLOAT, i);
            double refLoss = ref.loss(p, w.inputs, w.targets, batch, steps, state, new ReferenceModel.Noise(masks,
                    recurrentMasks, wordScale, 0));
            assertEquals(refLoss, engineLoss, 1e-5 * Math.abs(refLoss), "window loss");
            assertEveryGradientIsTheReferences(m, ref, p, w, batch, steps, state, noise);
        }
    }

    /**
     * bf16 mode against the same double-precision finite differences. Every GEMM input is rounded
     * to bf16 (8 significant bits: relative error up to 2^-8 each), so a gradient entry, a sum of
     * products of rounded factors whose forward values were themselves computed from rounded
     * inputs, carries an error of a few 2^-8 of its terms' size, with signs that do not line up. So
     * the check is on each tensor as a whole: the relative L2 distance between the engine's
     * gradient and the finite differences must stay under 2^-4 (16 units of the rounding; measured
     * 0.23-0.60 % here), while a wrong transposition, a missing term or a stale bf16 copy is off by
     * tens of percent; the fp32 engine on the same windows is within 1e-4. bf16 runs three times:
     * with the per-step recurrent products in fp32 (the few-row kernel), and in oneDNN bf16 reading
     * W_rec in place and packed ({@link PackedSteps}), whichever this CPU's default is
     * ({@link ProductPolicy#bf16StepsOnThisCpu}); a row with variational recurrent dropout covers
     * the masked h_{t−1} rounded one step at a time.
     */
    @ParameterizedTest(name = "bf16 V={0} H={1} L={2} B={3} T={4} keep={5} recurrent keep={6} workers={7}")
    @CsvSource({
            "11, 16, 2, 3, 4, 0.7, 1.0, 2",
            "13, 8, 1, 2, 3, 1.0, 1.0, 1",
            "7, 12, 3, 4, 2, 0.5, 1.0, 2",
            "7, 6, 1, 33, 2, 1.0, 1.0, 2",
            "11, 10, 2, 3, 4, 0.8, 0.6, 2",
    })
    void bf16GradientsMatchFiniteDifferencesToTheirRounding(int vocab, int hidden, int layers, int batch, int steps,
                                                            float keep, float recurrentKeep, int threads) {
        DropoutPlan d = recurrentKeep < 1f ? new DropoutPlan(keep, keep, keep, recurrentKeep, 1f, true) : DropoutPlan.tensorFlow(keep);
        PackedSteps.Weights[] stepModes = {null, null, PackedSteps.Weights.IN_PLACE, PackedSteps.Weights.PACKED};
        for (int mode = 0; mode < stepModes.length; mode++) {
            Precision precision = mode == 0 ? Precision.FP32 : Precision.BF16;
            PackedSteps.Weights stepWeights = stepModes[mode];
            if (stepWeights == PackedSteps.Weights.PACKED && !lstmlm.natives.OneDnnSupport.packedMatmul(lstmlm.natives.PackedMatmul.Element.BF16)) {
                System.out.println("bf16 steps with W_rec packed: skipped, oneDNN has no bf16 matmul on this CPU");
                continue;
            }
            double[] worst = bf16Check(new ModelShape(vocab, hidden, layers), batch, steps, d, threads, precision, stepWeights);
            String what = precision + (precision == Precision.BF16
                    ? (stepWeights == null ? " (fp32 steps)" : " (bf16 steps, W_rec " + stepWeights + ")") : "");
            System.out.printf(java.util.Locale.ROOT, "%s V=%d H=%d L=%d B=%d: loss off by %.2e, worst tensor %.2e%n",
                    what, vocab, hidden, layers, batch, worst[0], worst[1]);
            double bound = precision == Precision.BF16 ? Math.scalb(1.0, -4) : 1e-4;
            assertTrue(worst[1] < bound, what + ": relative L2 gradient error " + worst[1]);
            assertTrue(worst[0] < (precision == Precision.BF16 ? 1e-2 : 1e-5), what + ": relative loss error " + worst[0]);
        }
    }

    /**
     * The adaptive softmax in bf16 (its gathered rows, projections and d-logits rounded into the mirror
     * before each product) against the same finite differences, to the rounding; fp32 on the same window
     * within 1e-4.
     */
    @Test
    void adaptiveSoftmaxInBf16MatchesFiniteDifferencesToItsRounding() {
        ModelShape shape = new ModelShape(29, 16, 2, false, adaptive("6 14", 2));
        for (Precision precision : new Precision[]{Precision.FP32, Precision.BF16}) {
            double[] worst = bf16Check(shape, 3, 4, DropoutPlan.tensorFlow(0.8f), 2, precision, null);
            System.out.printf(java.util.Locale.ROOT, "adaptive %s: loss off by %.2e, worst tensor %.2e%n", precision, worst[0], worst[1]);
            assertTrue(worst[1] < (precision == Precision.BF16 ? Math.scalb(1.0, -4) : 1e-4), precision + ": relative L2 gradient error " + worst[1]);
            assertTrue(worst[0] < (precision == Precision.BF16 ? 1e-2 : 1e-5), precision + ": relative loss error " + worst[0]);
        }
    }

    /**
     * An adaptive softmax with one cluster holding every word (cutoff 0: the head is that cluster's one
     * logit, so log P_head = 0), an identity projection (div 1) and the full softmax's weight and bias as
     * the cluster's, is the full softmax: the same window loss to float rounding, and the same gradient
     * of the layers below.
     */
    @Test
    void oneClusterHoldingEveryWordIsTheFullSoftmax() {
        int vocab = 19, hidden = 7, layers = 2, batch = 3, steps = 4;
        ModelShape full = new ModelShape(vocab, hidden, layers), oneCluster = new ModelShape(vocab, hidden, layers, false, adaptive("0", 1));
        try (Engine a = new Engine(full, 2); Engine b = new Engine(oneCluster, 2)) {
            LanguageModel fm = a.model(), am = b.model();
            fm.initialize(3, 0.5f);
            am.initialize(4, 0.5f);
            ParameterLayout fl = fm.layout, al = am.layout;
            // the same embedding and LSTM: everything before the softmax
            MemorySegment.copy(fm.params, 0, am.params, 0, fl.softmaxWeight * Float.BYTES);
            for (int j = 0; j < hidden; j++) {
                for (int q = 0; q < hidden; q++) am.params.setAtIndex(JAVA_FLOAT, al.tailProjection(0) + (long) j * hidden + q, j == q ? 1f : 0f);
            }
            MemorySegment.copy(fm.params, fl.softmaxWeight * Float.BYTES, am.params, al.tailWeight(0) * Float.BYTES, (long) hidden * vocab * Float.BYTES);
            MemorySegment.copy(fm.params, fl.softmaxBias * Float.BYTES, am.params, al.tailBias(0) * Float.BYTES, (long) vocab * Float.BYTES);
            fm.parametersChanged();
            am.parametersChanged();
            Window wa = a.newWindow(batch, steps, DropoutPlan.NONE), wb = b.newWindow(batch, steps, DropoutPlan.NONE);
            SplittableRandom random = new SplittableRandom(9);
            fillIds(random, wa.inputs, vocab);
            fillIds(random, wa.targets, vocab);
            System.arraycopy(wa.inputs, 0, wb.inputs, 0, wa.inputs.length);
            System.arraycopy(wa.targets, 0, wb.targets, 0, wa.targets.length);
            double fullLoss = a.trainWindow(wa, DropoutPlan.NONE, 1), adaptiveLoss = b.trainWindow(wb, DropoutPlan.NONE, 1);
            assertEquals(fullLoss, adaptiveLoss, 1e-5 * fullLoss, "window loss");
            for (long i = 0; i < fl.softmaxWeight; i++) {
                float g = fm.grads.getAtIndex(JAVA_FLOAT, i);
                assertEquals(g, am.grads.getAtIndex(JAVA_FLOAT, i), 1e-5 + 1e-4 * Math.abs(g), "gradient " + i);
            }
            assertEquals(a.evalWindow(wa), b.evalWindow(wb), 1e-5 * fullLoss, "evaluation");
        }
    }

    /**
     * bf16 with the per-step products in bf16 must round h_{t−1} and dz_t before each product: a
     * stale mirror (zeros, or the previous window's values) moves the gradient by far more than the
     * rounding. So the two step modes agree to the rounding, not bit for bit, and the bf16-step
     * engine's loss differs from the fp32-step engine's (it did multiply bf16 steps).
     */
    @Test
    void bf16StepProductsChangeOnlyTheRounding() {
        DropoutPlan d = new DropoutPlan(0.8f, 0.8f, 0.8f, 0.7f, 1f, true);
        double[] fp32Steps = bf16Check(new ModelShape(11, 10, 2), 3, 4, d, 2, Precision.BF16, null);
        for (PackedSteps.Weights at : new PackedSteps.Weights[]{PackedSteps.Weights.IN_PLACE, PackedSteps.Weights.PACKED}) {
            if (at == PackedSteps.Weights.PACKED && !lstmlm.natives.OneDnnSupport.packedMatmul(lstmlm.natives.PackedMatmul.Element.BF16)) continue; // none on this CPU
            double[] bf16Steps = bf16Check(new ModelShape(11, 10, 2), 3, 4, d, 2, Precision.BF16, at);
            assertTrue(fp32Steps[2] != bf16Steps[2], at + ": the bf16 step products gave fp32's loss " + fp32Steps[2]);
            assertEquals(fp32Steps[2], bf16Steps[2], 1e-2 * Math.abs(fp32Steps[2]), at + ": window loss");
        }
    }

    /** {relative loss error, largest per-tensor relative L2 gradient error, the engine's loss} of one window. */
    private static double[] bf16Check(ModelShape shape, int batch, int steps, DropoutPlan d, int threads,
                                      Precision precision, PackedSteps.Weights stepWeights) {
        int vocab = shape.vocab(), hidden = shape.hidden(), layers = shape.layers();
        SplittableRandom random = new SplittableRandom(vocab * 31L + hidden);
        try (Engine e = new Engine(shape, threads, precision, StepProfile.off(), stepWeights)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(batch, steps, d);
            m.initialize(5, 0.6f);
            for (int l = 0; l < layers; l++) {
                for (int k = 0; k < 4 * hidden; k++) {
                    m.params.setAtIndex(JAVA_FLOAT, m.layout.bias(l) + k, (float) (random.nextDouble() - 0.5));
                }
            }
            m.parametersChanged();
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            e.trainWindow(w, d, 77);
            m.grads.fill((byte) 0);
            fillIds(random, w.inputs, vocab);
            fillIds(random, w.targets, vocab);
            float[] state = w.state();
            double engineLoss = e.trainWindow(w, d, 78);
            int rows = batch * steps;
            float[][] masks = new float[layers + 1][];
            if (d.input() < 1f) masks[0] = read(w.acts, w.mask0, rows * hidden);
            for (int l = 0; l < layers; l++) {
                if (w.outputDropped[l]) masks[l + 1] = read(w.acts, w.mask[l], rows * hidden);
            }
            float[][] recurrentMasks = null;
            if (d.recurrent() < 1f) {
                recurrentMasks = new float[layers][];
                for (int l = 0; l < layers; l++) recurrentMasks[l] = read(w.acts, w.recMask[l], batch * hidden);
            }
            ReferenceModel.Noise noise = new ReferenceModel.Noise(masks, recurrentMasks, null, 0);
            ReferenceModel ref = new ReferenceModel(shape);
            double[] p = new double[(int) m.layout.size];
            for (int i = 0; i < p.length; i++) p[i] = m.params.getAtIndex(JAVA_FLOAT, i);
            double refLoss = ref.loss(p, w.inputs, w.targets, batch, steps, state, noise);
            double worst = 0, eps = 1e-5;
            for (ParameterLayout.Tensor t : m.layout.tensors()) {
                double diff = 0, norm = 0;
                for (long k = 0; k < t.size(); k++) {
                    int i = (int) (t.offset() + k);
                    double numeric = centralDifference(ref, p, i, eps, w, batch, steps, state, noise);
                    double analytic = m.grads.getAtIndex(JAVA_FLOAT, i);
                    diff += (numeric - analytic) * (numeric - analytic);
                    norm += numeric * numeric;
                }
                if (norm > 0) worst = Math.max(worst, Math.sqrt(diff / norm));
            }
            return new double[]{Math.abs(engineLoss - refLoss) / Math.abs(refLoss), worst, engineLoss};
        }
    }

    @Test
    void clipAndUpdateIsGlobalNormClippingThenSgd() {
        ModelShape shape = new ModelShape(9, 4, 2);
        try (Engine e = new Engine(shape, 2)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(2, 3, DropoutPlan.NONE);
            m.initialize(3, 0.5f);
            SplittableRandom random = new SplittableRandom(4);
            fillIds(random, w.inputs, 9);
            fillIds(random, w.targets, 9);
            for (float maxNorm : new float[]{0.01f, 1000f}) {
                m.grads.fill((byte) 0);
                e.trainWindow(w, 1f, 1);
                float[] before = m.params.toArray(JAVA_FLOAT), g = m.grads.toArray(JAVA_FLOAT);
                double sq = 0;
                for (float x : g) sq += (double) x * x;
                double norm = Math.sqrt(sq);
                assertTrue(norm > 0.01, "the test needs a gradient larger than the small clip norm");
                double reported = e.update(0.7f, maxNorm);
                assertEquals(norm, reported, 1e-5 * norm);
                double scale = norm > maxNorm ? maxNorm / norm : 1;
                float[] after = m.params.toArray(JAVA_FLOAT);
                for (int i = 0; i < after.length; i++) {
                    assertEquals(before[i] - 0.7 * scale * g[i], after[i], 1e-6 + 1e-5 * Math.abs(before[i]), "param " + i);
                }
                // the sparse embedding gradient is cleared for the next window's scatter-add
                for (int i = 0; i < m.layout.denseStart; i++) assertEquals(0f, m.grads.getAtIndex(JAVA_FLOAT, i));
            }
        }
    }

    static void fillIds(SplittableRandom r, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(vocab);
    }

    static float[] read(MemorySegment seg, long off, int n) {
        float[] x = new float[n];
        MemorySegment.copy(seg, JAVA_FLOAT, off * Float.BYTES, x, 0, n);
        return x;
    }

    /** Each parameter's gradient against the central difference (ε = 1e-5) of the reference's loss, per sequence. */
    private static void assertEveryGradientIsTheReferences(LanguageModel m, ReferenceModel ref, double[] p, Window w, int batch,
                                                           int steps, float[] state, ReferenceModel.Noise noise) {
        double eps = 1e-5;
        for (ParameterLayout.Tensor t : m.layout.tensors()) {
            for (long k = 0; k < t.size(); k++) {
                int i = (int) (t.offset() + k);
                double numeric = centralDifference(ref, p, i, eps, w, batch, steps, state, noise);
                double analytic = m.grads.getAtIndex(JAVA_FLOAT, i);
                assertEquals(numeric, analytic, 1e-4 + 2e-3 * Math.abs(numeric), t.name() + "[" + k + "]");
            }
        }
    }

    /** d loss / d p[i] per sequence, by the reference's loss at p[i] ± eps. */
    private static double centralDifference(ReferenceModel ref, double[] p, int i, double eps, Window w, int batch, int steps,
                                            float[] state, ReferenceModel.Noise noise) {
        double keepValue = p[i];
        p[i] = keepValue + eps;
        double plus = ref.loss(p, w.inputs, w.targets, batch, steps, state, noise);
        p[i] = keepValue - eps;
        double minus = ref.loss(p, w.inputs, w.targets, batch, steps, state, noise);
        p[i] = keepValue;
        return (plus - minus) / (2 * eps) / batch;
    }
}
