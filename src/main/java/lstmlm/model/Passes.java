package lstmlm.model;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.Dropout;
import lstmlm.kernels.Embedding;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.kernels.VectorMath;
import lstmlm.modelfile.AdaptiveSoftmax;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;

import java.lang.foreign.MemorySegment;

/**
 * The forward and backward passes over one window, hand-written and fused, llm.c style: each
 * layer is a {@code *Forward}/{@code *Backward} pair over flat memory, and backward mirrors
 * forward; {@link Engine#trainWindow} and {@link Engine#evalWindow} run them in order. Per window,
 * everything but the 2·L·T recurrent products runs as whole-window GEMMs: the input projections,
 * the output projection and every weight gradient ({@link WindowProducts}). The recurrent products
 * have only B rows ({@link StepProducts}: the Java few-row kernel, OpenBLAS above its rows, or bf16).
 * How each product runs is chosen once, when the engine and the window are built, and the products
 * time themselves when the engine profiles: the passes hold only the math.
 *
 * <p>In bf16 mode ({@link Precision#BF16}) every whole-window product reads bf16 inputs and
 * accumulates in float32 (oneDNN): the weights from the model's bf16 mirror, the activations from the
 * window's mirror, which each producer below fills right after it writes the float32 values
 * ({@link #toBf16}). The per-step recurrent products go to oneDNN bf16 too where that is faster
 * (AVX-512 BF16 without AMX, {@link ProductPolicy#bf16StepsOnThisCpu}; {@link PackedSteps}): then
 * h_{t−1} and dz_t are rounded into the mirror one step at a time, as the cell writes them, and
 * W_rec is read from its packed copy, refreshed once per parameter version. Elsewhere they stay float32
 * (the few-row kernel, or OpenBLAS above its row limit). Everything else is the same code in both
 * modes.
 *
 * <p>Dropout ({@link DropoutPlan}): the embedding output (word rows, then units), each layer's output
 * and, per sequence, the recurrent input h<sub>t−1</sub>. Every mask is a counter-based function
 * of the window's seed and the place (stream 0 the input, l + 1 layer l's output, 1000 + l layer
 * l's recurrent input, 2000 the words, 3000 + i tail cluster i's units), so a seed fixes them all. A
 * variational mask is drawn for one step's B rows and copied to the others; the tail clusters' masks are
 * always per token.
 *
 * <p>Tied embeddings ({@link ModelShape#tied}): the logits are X·Eᵀ and the softmax's gradient
 * Eᵀ-side, dE = dlogitsᵀ·X, overwrites E's gradient before the input side's scatter-add joins it.
 *
 * <p>Shapes: B batch, T steps, R = T·B rows, H hidden, V vocabulary.
 */
public final class Passes {
    private Passes() {}

    static final long WORD_STREAM = 2000, RECURRENT_STREAM = 1000, TAIL_STREAM = 3000;

    /** The training window's inputs must match the buffers it was made with. */
    static void checkBuffers(Window w, DropoutPlan d) {
        if ((d.masksNeeded() && !w.dropout) || (d.recurrent() < 1f && !w.recurrentDropout)) {
            throw new IllegalArgumentException("this window was made without the buffers for " + d
                    + ": make it with Engine.newWindow(batch, steps, dropouts)");
        }
    }

    // ---------------------------------------------------------------- masks

    /**
     * mask[R x H] with keep probability {@code keep} from {@code seed}: each element its own, or,
     * variational, one [B x H] mask repeated at every step.
     */
    static void dropoutMask(Window w, long mask, float keep, long seed, boolean variational) {
        long stepFloats = (long) w.batch * w.shape.hidden();
        int first = Math.toIntExact((long) w.firstRow * w.shape.hidden()); // a rank's rows: their global elements
        if (!variational) {
            if (w.batch == w.globalBatch) {
                Dropout.mask(w.acts, mask, Math.toIntExact(w.steps * stepFloats), keep, seed);
                return;
            }
            long globalStep = (long) w.globalBatch * w.shape.hidden();
            for (int t = 0; t < w.steps; t++) {
                Dropout.mask(w.acts, mask + t * stepFloats, Math.toIntExact(stepFloats), keep, seed,
                        Math.toIntExact(t * globalStep + first));
            }
            return;
        }
        Dropout.mask(w.acts, mask, Math.toIntExact(stepFloats), keep, seed, first);
        for (int t = 1; t < w.steps; t++) {
            MemorySegment.copy(w.acts, mask * Float.BYTES, w.acts, (mask + t * stepFloats) * Float.BYTES,
                    stepFloats * Float.BYTES);
        }
    }

    // ---------------------------------------------------------------- embedding

    /** x0[R x H] = dropout(words(E[inputs])). */
    static void embeddingForward(Engine e, Window w, DropoutPlan d, long seed) {
        LanguageModel m = e.model;
        int rows = w.inputs.length, hid = m.shape.hidden();
        Embedding.gather(m.params, m.layout.embedding, w.inputs, 0, rows, hid, w.acts, w.x0);
        if (d.words() < 1f) {
            // a word's row is dropped for every occurrence in its sequence (column b): decision (b, word id)
            long wordSeed = Dropout.splitSeed(seed, WORD_STREAM);
            for (int r = 0; r < rows; r++) {
                int b = w.firstRow + r % w.batch; // the global sequence
                w.wordScale[r] = Dropout.scale(wordSeed, Math.toIntExact((long) b * m.shape.vocab() + w.inputs[r]), d.words());
                VectorMath.scale(w.acts, w.x0 + (long) r * hid, hid, w.wordScale[r]);
            }
        }
        if (d.input() < 1f) {
            dropoutMask(w, w.mask0, d.input(), Dropout.splitSeed(seed, 0), d.variational());
            Dropout.apply(w.acts, w.x0, w.acts, w.mask0, w.acts, w.x0, rows * hid);
        }
        toBf16(w, w.x0, (long) rows * hid);
    }

    /** dE[inputs] += words'(dropout'(dx)): only the rows this window read. */
    static void embeddingBackward(Engine e, Window w, DropoutPlan d) {
        LanguageModel m = e.model;
        int rows = w.inputs.length, hid = m.shape.hidden();
        if (d.input() < 1f) Dropout.apply(w.acts, w.dx, w.acts, w.mask0, w.acts, w.dx, rows * hid);
        if (d.words() < 1f) {
            for (int r = 0; r < rows; r++) VectorMath.scale(w.acts, w.dx + (long) r * hid, hid, w.wordScale[r]);
        }
        Embedding.scatterAdd(m.grads, m.layout.embedding, w.inputs, 0, rows, hid, w.acts, w.dx);
    }

    // ---------------------------------------------------------------- LSTM layer

    /** Where layer l's output lives: its dropout buffer, or h[l] slots 1..T when it is not dropped. */
    static long layerOutput(Window w, int l) {
        return w.outputDropped[l] ? w.out[l] : w.h[l] + (long) w.batch * w.shape.hidden();
    }

    /** Where layer l reads its input: x0 for the first layer, else the output of layer l-1. */
    static long layerInput(Window w, int l) {
        return l == 0 ? w.x0 : layerOutput(w, l - 1);
    }

    /**
     * z[R x 4H] = in[R x H] · W_in[H x 4H] as one GEMM; then per step t:
     * z_t += h_{t-1} · W_rec (h_{t-1} times the recurrent mask with recurrent dropout), and the fused
     * cell gives c_t, h_t. out = dropout(h[1..T]).
     */
    static void lstmForward(Engine e, Window w, int l, DropoutPlan d, long seed) {
        LanguageModel m = e.model;
        StepProducts steps = w.stepProducts;
        int b = w.batch, rows = b * w.steps, hid = m.shape.hidden(), g = 4 * hid;
        MemorySegment acts = w.acts;
        long step = (long) b * hid, zStep = (long) b * g;
        boolean recurrentDrop = d.recurrent() < 1f, bf16Steps = steps.bf16();
        e.products.multiply(e, Matrix.of(w.slab, layerInput(w, l), rows, hid), Matrix.of(m.slab, m.layout.weight(l), hid, g),
                0f, Matrix.of(w.slab, w.z[l], rows, g));
        steps.prepareForward(e, w, l);
        if (recurrentDrop) {
            Dropout.mask(acts, w.recMask[l], Math.toIntExact(step), d.recurrent(), Dropout.splitSeed(seed, RECURRENT_STREAM + l),
                    Math.toIntExact((long) w.firstRow * hid));
        }
        if (bf16Steps) toBf16(w, w.h[l], step); // h_0, the carried state
        for (int t = 0; t < w.steps; t++) {
            long zt = w.z[l] + t * zStep;
            long hPrev = w.h[l] + t * step;
            if (recurrentDrop) {
                VectorMath.mul(acts, w.hm[l] + t * step, acts, hPrev, acts, w.recMask[l], step);
                hPrev = w.hm[l] + t * step;
                if (bf16Steps) toBf16(w, hPrev, step);
            }
            steps.forward(e, w, l, hPrev, zt);
            w.cellRows.forward(e, l, t, bf16Steps);
        }
        // what dW_rec multiplies: h_0 .. h_{T-1} (masked with recurrent dropout); slots 1..T are also the
        // next layer's input when this layer's output is not dropped (with bf16 steps, all rounded above)
        if (!bf16Steps) {
            toBf16(w, w.h[l], (long) (w.steps + 1) * step);
            if (recurrentDrop) toBf16(w, w.hm[l], (long) rows * hid);
        }
        if (w.outputDropped[l]) {
            dropoutMask(w, w.mask[l], d.outputKeep(l, m.shape.layers()), Dropout.splitSeed(seed, l + 1), d.variational());
            Dropout.apply(acts, w.h[l] + step, acts, w.mask[l], acts, w.out[l], rows * hid);
            toBf16(w, w.out[l], (long) rows * hid);
        }
    }

    /**
     * In: dx = d out[l]. Backward through time from t = T-1 down, each step adding the recurrent
     * gradient dz_{t+1} · W_recᵀ (times the recurrent mask with recurrent dropout) into dh_t before
     * the fused cell backward turns it into dz_t (in place over the gate values). Then the
     * whole-window products: dW_in = inᵀ·dz, dW_rec = h[0..T-1]ᵀ·dz (the masked h with recurrent
     * dropout), d in = dz · W_inᵀ (into dx, swapped with dxAlt).
     */
    static void lstmBackward(Engine e, Window w, int l, DropoutPlan d) {
        LanguageModel m = e.model;
        StepProducts steps = w.stepProducts;
        int b = w.batch, rows = b * w.steps, hid = m.shape.hidden(), g = 4 * hid;
        MemorySegment acts = w.acts;
        long wIn = m.layout.weight(l), wRec = m.layout.recurrentWeight(l);
        long dx = w.dx;
        boolean recurrentDrop = d.recurrent() < 1f, bf16Steps = steps.bf16();
        if (w.outputDropped[l]) Dropout.apply(acts, dx, acts, w.mask[l], acts, dx, rows * hid);
        VectorMath.fill(acts, w.dc, (long) b * hid, 0f);
        steps.prepareBackward(e, w, l);
        long step = (long) b * hid, zStep = (long) b * g;
        for (int t = w.steps - 1; t >= 0; t--) {
            long zt = w.z[l] + t * zStep, dht = dx + t * step;
            if (t < w.steps - 1) {
                // with recurrent dropout the product goes to a scratch row block, masked, then into dh_t
                long into = recurrentDrop ? w.recurrentGrad : dht;
                if (recurrentDrop) VectorMath.fill(acts, into, step, 0f);
                steps.backward(e, w, l, zt + zStep, into);
                if (recurrentDrop) {
                    VectorMath.mul(acts, into, acts, into, acts, w.recMask[l], step);
                    VectorMath.add(acts, dht, acts, into, step);
                }
            }
            w.cellRows.backward(e, l, t, bf16Steps); // with bf16 steps also dz_t's copy, for dz_t · W_recᵀ
        }
        w.cellRows.biasGradient(e, l);
        if (!bf16Steps) toBf16(w, w.z[l], (long) rows * g); // dz, for the three weight- and input-gradient products
        Matrix dz = Matrix.of(w.slab, w.z[l], rows, g);
        long recurrentInput = recurrentDrop ? w.hm[l] : w.h[l];
        w.gemmPair.first().set(Matrix.of(w.slab, layerInput(w, l), rows, hid).t(), dz, Matrix.of(m.gradSlab, wIn, hid, g));
        w.gemmPair.second().set(Matrix.of(w.slab, recurrentInput, rows, hid).t(), dz, Matrix.of(m.gradSlab, wRec, hid, g));
        e.products.pair(e, w.gemmPair);
        e.products.multiply(e, dz, Matrix.of(m.slab, wIn, hid, g).t(), 0f, Matrix.of(w.slab, w.dxAlt, rows, hid));
        w.swapGradientBuffers();
    }

    // ---------------------------------------------------------------- softmax

    /**
     * logits[R x V] = out[L-1] · S_w as one GEMM (the bias is added inside the softmax kernel);
     * tied: out[L-1] · Eᵀ.
     */
    static void logitsForward(Engine e, Window w) {
        LanguageModel m = e.model;
        int rows = w.inputs.length, hid = m.shape.hidden(), v = m.shape.vocab();
        e.products.multiply(e, Matrix.of(w.slab, layerOutput(w, m.shape.layers() - 1), rows, hid), outputWeights(m),
                0f, Matrix.of(w.slab, w.logits, rows, v));
    }

    /**
     * Loss and d-logits in one fused pass per row, rows split over the workers. The loss of a
     * window is Σ_t mean_b CE, so d-logits carry 1/B. Each worker sums its rows' d-logits into its
     * own partial softmax-bias gradient. Of the plan only the adaptive softmax's tail dropout is read here.
     */
    static double softmaxForwardBackward(Engine e, Window w, DropoutPlan d, long seed) {
        LanguageModel m = e.model;
        if (m.shape.adaptive() != null) return adaptiveForwardBackward(e, w, d.tail(), seed);
        logitsForward(e, w);
        return crossEntropyBackward(e, w, w.logits, w.inputs.length, m.shape.vocab(), w.targets, m.layout.softmaxBias);
    }

    /**
     * Loss and d-logits of {@code rows} rows of {@code width} logits at {@code logits} (bias at {@code bias} of
     * the parameters, targets indexing a row), in place, rows split over the workers; the bias gradient
     * is the sum of the workers' partial sums, in worker order. Each row's d-logits carry 1/B: the loss of
     * a window is Σ_t mean_b CE.
     */
    private static double crossEntropyBackward(Engine e, Window w, long logits, int rows, int width, int[] targets, long bias) {
        LanguageModel m = e.model;
        float scale = 1f / w.globalBatch; // a rank's share of the global window's batch mean
        VectorMath.fill(w.acts, w.dSoftmaxBias, (long) w.workers * width, 0f);
        java.util.Arrays.fill(w.lossPartials, 0);
        e.workers.forRange(0, rows, (chunk, from, to) -> {
            w.lossPartials[chunk] = SoftmaxCrossEntropy.forwardBackward(w.acts, logits, m.params, bias,
                    targets, 0, from, to, width, scale, w.acts, w.dSoftmaxBias + (long) chunk * width);
            toBf16(w, logits + (long) from * width, (long) (to - from) * width); // this thread's rows, still in cache
        });
        VectorMath.copy(w.acts, w.dSoftmaxBias, m.grads, bias, width);
        for (int k = 1; k < w.workers; k++) {
            VectorMath.add(m.grads, bias, w.acts, w.dSoftmaxBias + (long) k * width, width);
        }
        return sum(w.lossPartials);
    }

    /** The loss alone of rows laid out as for {@link #crossEntropyBackward}; the logits are only read. */
    private static double crossEntropyLoss(Engine e, Window w, long logits, int rows, int width, int[] targets, long bias) {
        LanguageModel m = e.model;
        java.util.Arrays.fill(w.lossPartials, 0);
        e.workers.forRange(0, rows, (chunk, from, to) -> w.lossPartials[chunk] =
                SoftmaxCrossEntropy.forward(w.acts, logits, m.params, bias, targets, 0, from, to, width,
                        w.acts, w.softmaxScratch + (long) chunk * width));
        return sum(w.lossPartials);
    }

    /**
     * dS_w = outᵀ · dlogits beside d out = dlogits · S_wᵀ (into dx); dS_b was summed with the loss. Tied:
     * dE = dlogitsᵀ · out (overwriting E's gradient) beside d out = dlogits · E. The adaptive softmax did
     * its whole backward with its forward ({@link #adaptiveForwardBackward}).
     */
    static void softmaxBackward(Engine e, Window w) {
        LanguageModel m = e.model;
        if (m.shape.adaptive() != null) return;
        int rows = w.inputs.length, hid = m.shape.hidden(), v = m.shape.vocab();
        Matrix top = Matrix.of(w.slab, layerOutput(w, m.shape.layers() - 1), rows, hid);
        Matrix dLogits = Matrix.of(w.slab, w.logits, rows, v);
        if (m.shape.tied()) {
            w.gemmPair.first().set(dLogits.t(), top, Matrix.of(m.gradSlab, m.layout.embedding, v, hid));
        } else {
            w.gemmPair.first().set(top.t(), dLogits, Matrix.of(m.gradSlab, m.layout.softmaxWeight, hid, v));
        }
        w.gemmPair.second().set(dLogits, outputWeights(m).t(), Matrix.of(w.slab, w.dx, rows, hid));
        e.products.pair(e, w.gemmPair);
    }

    /** The output layer's weights as the logits product reads them, [H × V]: S_w, or Eᵀ when tied. */
    private static Matrix outputWeights(LanguageModel m) {
        int hid = m.shape.hidden(), v = m.shape.vocab();
        return m.shape.tied() ? Matrix.of(m.slab, m.layout.embedding, v, hid).t() : Matrix.of(m.slab, m.layout.softmaxWeight, hid, v);
    }

    static double softmaxForwardLoss(Engine e, Window w) {
        LanguageModel m = e.model;
        if (m.shape.adaptive() != null) return adaptiveForwardLoss(e, w);
        logitsForward(e, w);
        return crossEntropyLoss(e, w, w.logits, w.inputs.length, m.shape.vocab(), w.targets, m.layout.softmaxBias);
    }

    // ---------------------------------------------------------------- adaptive softmax

    /*
     * Shapes: N head logits (c₀ words + one per cluster); cluster i: Sᵢ words from cᵢ, projection Dᵢ,
     * nᵢ ≤ R rows this window (those whose target is in it), gathered into tailInput.
     *
     *   head:      logits[R x N]   = top · W_head + b_head;   target: the word, or c₀ + i for a word of cluster i
     *   cluster i: hidden[nᵢ x Dᵢ] = top[rows of i] · P_i;  logits[nᵢ x Sᵢ] = hidden · O_i + b_i
     *   loss = Σ_rows CE(head) + Σ_i Σ_rows of i CE(cluster i)   (log P(w) = log P_head(i) + log P_i(w))
     */

    /** Each row's head target: its word for a head word, else c₀ + its cluster. */
    private static void headTargets(Window w, AdaptiveSoftmax a) {
        int c0 = a.start(0);
        for (int r = 0; r < w.inputs.length; r++) {
            int t = w.targets[r], c = a.clusterOf(t);
            w.headTargets[r] = c < 0 ? t : c0 + c;
        }
    }

    /** Fills w.tailRows and w.tailTargets with cluster i's rows; returns how many. */
    private static int gatherCluster(Window w, AdaptiveSoftmax a, int cluster, int vocab) {
        int start = a.start(cluster), end = start + a.size(cluster, vocab), n = 0;
        for (int r = 0; r < w.inputs.length; r++) {
            int t = w.targets[r];
            if (t >= start && t < end) {
                w.tailRows[n] = r;
                w.tailTargets[n++] = t - start;
            }
        }
        return n;
    }

    /**
     * Forward and backward of the adaptive softmax in one pass: the head (GEMM, loss and d-logits,
     * dW_head beside dx = d-logits · W_headᵀ), then each tail cluster on its gathered rows (projection,
     * logits, loss and d-logits, dO beside d hidden, dP beside d input), whose input gradient is added
     * into dx row by row. A cluster with no rows in this window gets a zero gradient. With {@code tailKeep}
     * &lt; 1 each cluster's projected units are dropped between the projection and its logits (mask[nᵢ x Dᵢ]),
     * and d hidden goes through the same mask before dP and d input.
     */
    static double adaptiveForwardBackward(Engine e, Window w, float tailKeep, long seed) {
        LanguageModel m = e.model;
        var a = m.shape.adaptive();
        ParameterLayout lay = m.layout;
        int rows = w.inputs.length, hid = m.shape.hidden(), v = m.shape.vocab(), n0 = a.headSize();
        Matrix top = Matrix.of(w.slab, layerOutput(w, m.shape.layers() - 1), rows, hid);
        Matrix headW = Matrix.of(m.slab, lay.headWeight, hid, n0), headLogits = Matrix.of(w.slab, w.logits, rows, n0);
        headForward(e, w);
        double loss = crossEntropyBackward(e, w, w.logits, rows, n0, w.headTargets, lay.headBias);
        w.gemmPair.first().set(top.t(), headLogits, Matrix.of(m.gradSlab, lay.headWeight, hid, n0));
        w.gemmPair.second().set(headLogits, headW.t(), Matrix.of(w.slab, w.dx, rows, hid));
        e.products.pair(e, w.gemmPair);
        for (int i = 0; i < a.clusters(); i++) {
            int d = a.projection(i, hid), size = a.size(i, v), n = clusterForward(e, w, i, tailKeep, seed);
            if (n == 0) {
                VectorMath.fill(m.grads, lay.tailProjection(i), (long) hid * d, 0f);
                VectorMath.fill(m.grads, lay.tailWeight(i), (long) d * size, 0f);
                VectorMath.fill(m.grads, lay.tailBias(i), size, 0f);
                continue;
            }
            loss += crossEntropyBackward(e, w, w.tailLogits, n, size, w.tailTargets, lay.tailBias(i));
            Matrix input = Matrix.of(w.slab, w.tailInput, n, hid), hidden = Matrix.of(w.slab, w.tailHidden, n, d);
            Matrix proj = Matrix.of(m.slab, lay.tailProjection(i), hid, d), out = Matrix.of(m.slab, lay.tailWeight(i), d, size);
            Matrix logits = Matrix.of(w.slab, w.tailLogits, n, size), hiddenGrad = Matrix.of(w.slab, w.tailHiddenGrad, n, d);
            w.gemmPair.first().set(hidden.t(), logits, Matrix.of(m.gradSlab, lay.tailWeight(i), d, size));
            w.gemmPair.second().set(logits, out.t(), hiddenGrad);
            e.products.pair(e, w.gemmPair);
            if (tailKeep < 1f) Dropout.apply(w.acts, w.tailHiddenGrad, w.acts, w.tailMask, w.acts, w.tailHiddenGrad, n * d);
            toBf16(w, w.tailHiddenGrad, (long) n * d);
            w.gemmPair.first().set(input.t(), hiddenGrad, Matrix.of(m.gradSlab, lay.tailProjection(i), hid, d));
            w.gemmPair.second().set(hiddenGrad, proj.t(), Matrix.of(w.slab, w.tailInputGrad, n, hid));
            e.products.pair(e, w.gemmPair);
            Embedding.scatterAdd(w.acts, w.dx, w.tailRows, 0, n, hid, w.acts, w.tailInputGrad);
        }
        return loss;
    }

    /** The adaptive softmax's loss alone: the head's, then each cluster's on its rows. */
    static double adaptiveForwardLoss(Engine e, Window w) {
        LanguageModel m = e.model;
        var a = m.shape.adaptive();
        ParameterLayout lay = m.layout;
        headForward(e, w);
        double loss = crossEntropyLoss(e, w, w.logits, w.inputs.length, a.headSize(), w.headTargets, lay.headBias);
        for (int i = 0; i < a.clusters(); i++) {
            int n = clusterForward(e, w, i, 1f, 0);
            if (n > 0) loss += crossEntropyLoss(e, w, w.tailLogits, n, a.size(i, m.shape.vocab()), w.tailTargets, lay.tailBias(i));
        }
        return loss;
    }

    /** head logits[R x N] = top · W_head (the bias is added inside the softmax kernel), and the rows' head targets. */
    private static void headForward(Engine e, Window w) {
        LanguageModel m = e.model;
        int rows = w.inputs.length, hid = m.shape.hidden(), n0 = m.shape.adaptive().headSize();
        headTargets(w, m.shape.adaptive());
        e.products.multiply(e, Matrix.of(w.slab, layerOutput(w, m.shape.layers() - 1), rows, hid),
                Matrix.of(m.slab, m.layout.headWeight, hid, n0), 0f, Matrix.of(w.slab, w.logits, rows, n0));
    }

    /**
     * Cluster i's rows gathered (tailInput), projected (tailHidden) and turned into its logits
     * (tailLogits, bias left to the softmax kernel); returns how many rows, each GEMM input rounded into
     * the bf16 mirror first. With {@code keep} &lt; 1 the projection is dropped ({@link #tailMask}) before
     * the logits read it.
     */
    private static int clusterForward(Engine e, Window w, int i, float keep, long seed) {
        LanguageModel m = e.model;
        var a = m.shape.adaptive();
        int hid = m.shape.hidden(), d = a.projection(i, hid), size = a.size(i, m.shape.vocab());
        int n = gatherCluster(w, a, i, m.shape.vocab());
        if (n == 0) return 0;
        Embedding.gather(w.acts, layerOutput(w, m.shape.layers() - 1), w.tailRows, 0, n, hid, w.acts, w.tailInput);
        toBf16(w, w.tailInput, (long) n * hid);
        e.products.multiply(e, Matrix.of(w.slab, w.tailInput, n, hid), Matrix.of(m.slab, m.layout.tailProjection(i), hid, d), 0f,
                Matrix.of(w.slab, w.tailHidden, n, d));
        if (keep < 1f) {
            tailMask(w, i, n, d, keep, seed);
            Dropout.apply(w.acts, w.tailHidden, w.acts, w.tailMask, w.acts, w.tailHidden, n * d);
        }
        toBf16(w, w.tailHidden, (long) n * d);
        e.products.multiply(e, Matrix.of(w.slab, w.tailHidden, n, d), Matrix.of(m.slab, m.layout.tailWeight(i), d, size), 0f,
                Matrix.of(w.slab, w.tailLogits, n, size));
        return n;
    }

    /**
     * mask[n x d] for cluster i's gathered rows: row k's units are elements [g·d, g·d + d) of the cluster's
     * mask over the global window's rows, g being the row's place there (step t, sequence firstRow + b),
     * so data-parallel ranks draw the very masks one process would.
     */
    private static void tailMask(Window w, int i, int n, int d, float keep, long seed) {
        long clusterSeed = Dropout.splitSeed(seed, TAIL_STREAM + i);
        for (int k = 0; k < n; k++) {
            int r = w.tailRows[k], t = r / w.batch, b = r % w.batch;
            long global = (long) t * w.globalBatch + w.firstRow + b;
            Dropout.mask(w.acts, w.tailMask + (long) k * d, d, keep, clusterSeed, Math.toIntExact(global * d));
        }
    }

    /** bf16 mode: copies n floats at {@code off} of the window into its mirror, rounded; nothing in fp32 mode. */
    static void toBf16(Window w, long off, long n) {
        if (w.bf16Mirror != null) Bf16.fromFloats(w.acts, off, w.bf16Mirror, off, n);
    }

    private static double sum(double[] xs) {
        double s = 0;
        for (double x : xs) s += x;
        return s;
    }
}
