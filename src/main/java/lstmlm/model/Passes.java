package lstmlm.model;

import lstmlm.blas.Blas;
import lstmlm.blas.OneDnn;
import lstmlm.kernels.Bf16;
import lstmlm.kernels.Dropout;
import lstmlm.kernels.Embedding;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.kernels.VectorMath;

import lstmlm.model.StepProfile.Part;

import java.lang.foreign.MemorySegment;

/**
 * The forward and backward passes over one window, hand-written and fused, llm.c style: each
 * layer is a {@code *Forward}/{@code *Backward} pair over flat memory, and backward mirrors
 * forward. Per window, everything but the 2·L·T recurrent products runs as whole-window GEMMs
 * (OpenBLAS): the input projections, the output projection and every weight gradient. The
 * recurrent products have only B rows, a shape OpenBLAS runs at half speed; they go to the Java
 * few-row kernel ({@link RecurrentProduct}).
 *
 * <p>In bf16 mode ({@link Precision#BF16}) every whole-window product reads bf16 inputs and
 * accumulates in float32 (oneDNN): the weights from the model's shadow, the activations from the
 * window's mirror, which each producer below fills right after it writes the float32 values
 * ({@link #toBf16}). The per-step recurrent products go to oneDNN bf16 too where that is faster
 * (AVX-512 BF16 without AMX, {@link Engine#stepProductsInBf16OnThisCpu}; {@link PackedSteps}): then
 * h_{t−1} and dz_t are rounded into the mirror one step at a time, as the cell writes them, and
 * W_rec is read from its packed copy, refreshed once per parameter version. Elsewhere they stay float32
 * (the few-row kernel, or OpenBLAS above its row limit). Everything else is the same code in both
 * modes.
 *
 * <p>Dropout ({@link Dropouts}): the embedding output (word rows, then units), each layer's output
 * and, per sequence, the recurrent input h<sub>t−1</sub>. Every mask is a counter-based function
 * of the window's seed and the place (stream 0 the input, l + 1 layer l's output, 1000 + l layer
 * l's recurrent input, 2000 the words), so a seed fixes them all. A variational mask is drawn for
 * one step's B rows and copied to the others.
 *
 * <p>Tied embeddings ({@link ModelShape#tied}): the logits are X·Eᵀ and the softmax's gradient
 * Eᵀ-side, dE = dlogitsᵀ·X, overwrites E's gradient before the input side's scatter-add joins it.
 *
 * <p>Shapes: B batch, T steps, R = T·B rows, H hidden, V vocabulary.
 */
public final class Passes {
    private Passes() {}

    static final long WORD_STREAM = 2000, RECURRENT_STREAM = 1000;

    /**
     * One training window: forward, loss, backward into {@code model.grads}. The inputs and
     * targets must already be in {@code w.inputs} / {@code w.targets}. Leaves the gradients in
     * place for {@link LanguageModel#clipAndUpdate}; carries the state to the next window.
     *
     * @param dropoutSeed fixes this window's dropout masks
     * @return the summed cross-entropy over the window's T·B tokens (nats)
     */
    static double trainWindow(Engine e, Window w, Dropouts d, long dropoutSeed) {
        if ((d.masksNeeded() && !w.dropout) || (d.recurrent() < 1f && !w.recurrentDropout)) {
            throw new IllegalArgumentException("this window was made without the buffers for " + d
                    + ": make it with Engine.newWindow(batch, steps, dropouts)");
        }
        int layers = e.shape.layers();
        for (int l = 0; l < layers; l++) w.outputDropped[l] = d.outputKeep(l, layers) < 1f;
        e.model.refreshShadow();
        embeddingForward(e, w, d, dropoutSeed);
        for (int l = 0; l < layers; l++) {
            lstmForward(e, w, l, d, dropoutSeed);
        }
        double loss = softmaxForwardBackward(e, w);
        softmaxBackward(e, w);
        for (int l = layers - 1; l >= 0; l--) {
            lstmBackward(e, w, l, d);
        }
        embeddingBackward(e, w, d);
        long t0 = e.profile.start();
        e.model.markTouchedRows(w.inputs, w.inputs.length);
        w.carryState();
        e.profile.stop(Part.OTHER_KERNELS, t0);
        return loss;
    }

    /** Forward only, no dropout, nothing kept for backward: the loss of one window. */
    static double evalWindow(Engine e, Window w) {
        java.util.Arrays.fill(w.outputDropped, false);
        e.model.refreshShadow();
        embeddingForward(e, w, Dropouts.NONE, 0);
        for (int l = 0; l < e.shape.layers(); l++) {
            lstmForward(e, w, l, Dropouts.NONE, 0);
        }
        double loss = softmaxForwardLoss(e, w);
        w.carryState();
        return loss;
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
    static void embeddingForward(Engine e, Window w, Dropouts d, long seed) {
        LanguageModel m = e.model;
        long t0 = e.profile.start();
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
        e.profile.stop(Part.OTHER_KERNELS, t0);
    }

    /** dE[inputs] += words'(dropout'(dx)): only the rows this window read. */
    static void embeddingBackward(Engine e, Window w, Dropouts d) {
        LanguageModel m = e.model;
        long t0 = e.profile.start();
        int rows = w.inputs.length, hid = m.shape.hidden();
        if (d.input() < 1f) Dropout.apply(w.acts, w.dx, w.acts, w.mask0, w.acts, w.dx, rows * hid);
        if (d.words() < 1f) {
            for (int r = 0; r < rows; r++) VectorMath.scale(w.acts, w.dx + (long) r * hid, hid, w.wordScale[r]);
        }
        Embedding.scatterAdd(m.grads, m.layout.embedding, w.inputs, 0, rows, hid, w.acts, w.dx);
        e.profile.stop(Part.OTHER_KERNELS, t0);
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
    static void lstmForward(Engine e, Window w, int l, Dropouts d, long seed) {
        LanguageModel m = e.model;
        RowWorkers workers = e.workers;
        int b = w.batch, steps = w.steps, rows = b * steps, hid = m.shape.hidden(), g = 4 * hid;
        MemorySegment acts = w.acts, p = m.params;
        long wIn = m.layout.weight(l), wRec = m.layout.recurrentWeight(l), bias = m.layout.bias(l);
        long step = (long) b * hid, zStep = (long) b * g;
        boolean recurrentDrop = d.recurrent() < 1f;
        long t0 = e.profile.start();
        gemm(e, false, false, rows, g, hid, w.slab, layerInput(w, l), hid, m.slab, wIn, g, 0f, acts, w.z[l], g);
        t0 = e.profile.stop(Part.GEMM_WINDOW, t0);
        boolean bf16Steps = w.packedSteps != null;
        boolean fewRows = !bf16Steps && b <= RecurrentProduct.MAX_ROWS;
        long panels = m.forwardPanelsOffset(l);
        if (fewRows && !m.forwardPanelsCurrent(l)) {
            w.recurrent.pack(workers, p, wRec, g, hid, g, m.recurrentPanels, panels);
            m.forwardPanelsPacked(l);
            t0 = e.profile.stop(Part.GEMM_STEP, t0);
        }
        if (recurrentDrop) {
            Dropout.mask(acts, w.recMask[l], Math.toIntExact(step), d.recurrent(), Dropout.splitSeed(seed, RECURRENT_STREAM + l),
                    Math.toIntExact((long) w.firstRow * hid));
        }
        if (bf16Steps) {
            w.packedSteps.packForward(workers, l, m.version(), m.slab.bf16(), wRec);
            toBf16(w, w.h[l], step); // h_0, the carried state
            t0 = e.profile.stop(Part.GEMM_STEP, t0);
        }
        for (int t = 0; t < steps; t++) {
            long zt = w.z[l] + t * zStep;
            long hPrev = w.h[l] + t * step;
            if (recurrentDrop) {
                VectorMath.mul(acts, w.hm[l] + t * step, acts, hPrev, acts, w.recMask[l], step);
                hPrev = w.hm[l] + t * step;
                if (bf16Steps) toBf16(w, hPrev, step);
            }
            if (bf16Steps) {
                w.packedSteps.forward(workers, l, w.half, hPrev, acts, zt);
            } else if (fewRows) {
                w.recurrent.multiplyAdd(workers, b, hid, acts, hPrev, hid, m.recurrentPanels, panels, acts, zt, g, g,
                        acts, w.stepScratch);
            } else {
                Blas.sgemm(false, false, b, g, hid, 1f, acts, hPrev, hid, p, wRec, g, 1f, acts, zt, g);
            }
            t0 = e.profile.stop(Part.GEMM_STEP, t0);
            LstmCell.forward(acts, zt, p, bias, acts, w.c[l] + t * step, acts, w.c[l] + (t + 1) * step,
                    acts, w.tanhC[l] + t * step, acts, w.h[l] + (t + 1) * step, b, hid, ModelShape.FORGET_BIAS);
            if (bf16Steps) toBf16(w, w.h[l] + (t + 1) * step, step);
            t0 = e.profile.stop(Part.CELL, t0);
        }
        // what dW_rec multiplies: h_0 .. h_{T-1} (masked with recurrent dropout); slots 1..T are also the
        // next layer's input when this layer's output is not dropped (with bf16 steps, all rounded above)
        if (!bf16Steps) {
            toBf16(w, w.h[l], (long) (steps + 1) * step);
            if (recurrentDrop) toBf16(w, w.hm[l], (long) rows * hid);
        }
        t0 = e.profile.stop(Part.OTHER_KERNELS, t0);
        if (w.outputDropped[l]) {
            dropoutMask(w, w.mask[l], d.outputKeep(l, m.shape.layers()), Dropout.splitSeed(seed, l + 1), d.variational());
            Dropout.apply(acts, w.h[l] + step, acts, w.mask[l], acts, w.out[l], rows * hid);
            toBf16(w, w.out[l], (long) rows * hid);
            e.profile.stop(Part.OTHER_KERNELS, t0);
        }
    }

    /**
     * In: dx = d out[l]. Backward through time from t = T-1 down, each step adding the recurrent
     * gradient dz_{t+1} · W_recᵀ (times the recurrent mask with recurrent dropout) into dh_t before
     * the fused cell backward turns it into dz_t (in place over the gate values). Then the
     * whole-window products: dW_in = inᵀ·dz, dW_rec = h[0..T-1]ᵀ·dz (the masked h with recurrent
     * dropout), d in = dz · W_inᵀ (into dx, swapped with dxAlt).
     */
    static void lstmBackward(Engine e, Window w, int l, Dropouts d) {
        LanguageModel m = e.model;
        RowWorkers workers = e.workers;
        int b = w.batch, steps = w.steps, rows = b * steps, hid = m.shape.hidden(), g = 4 * hid;
        MemorySegment acts = w.acts, p = m.params, grads = m.grads;
        long wIn = m.layout.weight(l), wRec = m.layout.recurrentWeight(l), bias = m.layout.bias(l);
        long dx = w.dx;
        boolean recurrentDrop = d.recurrent() < 1f;
        long t0 = e.profile.start();
        if (w.outputDropped[l]) Dropout.apply(acts, dx, acts, w.mask[l], acts, dx, rows * hid);
        VectorMath.fill(acts, w.dc, (long) b * hid, 0f);
        VectorMath.fill(grads, bias, g, 0f);
        t0 = e.profile.stop(Part.OTHER_KERNELS, t0);
        boolean bf16Steps = w.packedSteps != null;
        boolean fewRows = !bf16Steps && b <= RecurrentProduct.MAX_ROWS;
        long panels = m.backwardPanelsOffset(l);
        if (bf16Steps) {
            w.packedSteps.packBackward(workers, l, m.version(), m.slab.bf16(), wRec);
            t0 = e.profile.stop(Part.GEMM_STEP, t0);
        } else if (fewRows) {
            // dz·W_recᵀ: the panels of W_recᵀ, fixed for the window
            w.recurrent.packTransposed(workers, p, wRec, g, g, hid, m.recurrentPanels, panels);
            t0 = e.profile.stop(Part.GEMM_STEP, t0);
        }
        long step = (long) b * hid, zStep = (long) b * g;
        for (int t = steps - 1; t >= 0; t--) {
            long zt = w.z[l] + t * zStep, dht = dx + t * step;
            if (t < steps - 1) {
                // with recurrent dropout the product goes to a scratch row block, masked, then into dh_t
                long into = recurrentDrop ? w.recurrentGrad : dht;
                if (recurrentDrop) VectorMath.fill(acts, into, step, 0f);
                if (bf16Steps) {
                    w.packedSteps.backward(workers, l, w.half, zt + zStep, acts, into);
                } else if (fewRows) {
                    w.recurrent.multiplyAdd(workers, b, g, acts, zt + zStep, g, m.recurrentPanels, panels, acts, into, hid, hid,
                            acts, w.stepScratch);
                } else {
                    Blas.sgemm(false, true, b, hid, g, 1f, acts, zt + zStep, g, p, wRec, g, 1f, acts, into, hid);
                }
                if (recurrentDrop) {
                    VectorMath.mul(acts, into, acts, into, acts, w.recMask[l], step);
                    VectorMath.add(acts, dht, acts, into, step);
                }
                t0 = e.profile.stop(Part.GEMM_STEP, t0);
            }
            LstmCell.backward(acts, zt, acts, w.c[l] + t * step, acts, w.tanhC[l] + t * step,
                    acts, dht, acts, w.dc, grads, bias, b, hid);
            if (bf16Steps) toBf16(w, zt, zStep); // dz_t, for the next step's dz_t · W_recᵀ
            t0 = e.profile.stop(Part.CELL, t0);
        }
        if (!bf16Steps) toBf16(w, w.z[l], (long) rows * g); // dz, for the three weight- and input-gradient products
        t0 = e.profile.stop(Part.OTHER_KERNELS, t0);
        long recurrentInput = recurrentDrop ? w.hm[l] : w.h[l];
        w.gemmPair.first().set(true, false, hid, g, rows, w.slab, layerInput(w, l), hid, w.slab, w.z[l], g, grads, wIn, g);
        w.gemmPair.second().set(true, false, hid, g, rows, w.slab, recurrentInput, hid, w.slab, w.z[l], g, grads, wRec, g);
        w.gemmPair.run(e);
        gemm(e, false, true, rows, hid, g, w.slab, w.z[l], g, m.slab, wIn, g, 0f, acts, w.dxAlt, hid);
        e.profile.stop(Part.GEMM_WINDOW, t0);
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
        long top = layerOutput(w, m.shape.layers() - 1);
        long t0 = e.profile.start();
        if (m.shape.tied()) {
            gemm(e, false, true, rows, v, hid, w.slab, top, hid, m.slab, m.layout.embedding, hid, 0f, w.acts, w.logits, v);
        } else {
            gemm(e, false, false, rows, v, hid, w.slab, top, hid, m.slab, m.layout.softmaxWeight, v, 0f, w.acts, w.logits, v);
        }
        e.profile.stop(Part.GEMM_WINDOW, t0);
    }

    /**
     * Loss and d-logits in one fused pass per row, rows split over the workers. The loss of a
     * window is Σ_t mean_b CE, so d-logits carry 1/B. Each worker sums its rows' d-logits into its
     * own partial softmax-bias gradient.
     */
    static double softmaxForwardBackward(Engine e, Window w) {
        LanguageModel m = e.model;
        logitsForward(e, w);
        int v = m.shape.vocab();
        float scale = 1f / w.globalBatch; // a rank's share of the global window's batch mean
        long t0 = e.profile.start();
        VectorMath.fill(w.acts, w.dSoftmaxBias, (long) w.workers * v, 0f);
        java.util.Arrays.fill(w.lossPartials, 0);
        e.workers.forRange(0, w.inputs.length, (chunk, from, to) -> {
            w.lossPartials[chunk] = SoftmaxCrossEntropy.forwardBackward(w.acts, w.logits, m.params, m.layout.softmaxBias,
                    w.targets, 0, from, to, v, scale, w.acts, w.dSoftmaxBias + (long) chunk * v);
            toBf16(w, w.logits + (long) from * v, (long) (to - from) * v); // this thread's rows, still in cache
        });
        e.profile.stop(Part.SOFTMAX, t0);
        return sum(w.lossPartials);
    }

    /**
     * dS_b = Σ partials; dS_w = outᵀ · dlogits beside d out = dlogits · S_wᵀ (into dx). Tied:
     * dE = dlogitsᵀ · out (overwriting E's gradient) beside d out = dlogits · E.
     */
    static void softmaxBackward(Engine e, Window w) {
        LanguageModel m = e.model;
        int rows = w.inputs.length, hid = m.shape.hidden(), v = m.shape.vocab();
        long top = layerOutput(w, m.shape.layers() - 1);
        long t0 = e.profile.start();
        VectorMath.copy(w.acts, w.dSoftmaxBias, m.grads, m.layout.softmaxBias, v);
        for (int k = 1; k < w.workers; k++) {
            VectorMath.add(m.grads, m.layout.softmaxBias, w.acts, w.dSoftmaxBias + (long) k * v, v);
        }
        t0 = e.profile.stop(Part.SOFTMAX, t0);
        if (m.shape.tied()) {
            w.gemmPair.first().set(true, false, v, hid, rows, w.slab, w.logits, v, w.slab, top, hid,
                    m.grads, m.layout.embedding, hid);
            w.gemmPair.second().set(false, false, rows, hid, v, w.slab, w.logits, v, m.slab, m.layout.embedding, hid,
                    w.acts, w.dx, hid);
        } else {
            w.gemmPair.first().set(true, false, hid, v, rows, w.slab, top, hid, w.slab, w.logits, v,
                    m.grads, m.layout.softmaxWeight, v);
            w.gemmPair.second().set(false, true, rows, hid, v, w.slab, w.logits, v, m.slab, m.layout.softmaxWeight, v,
                    w.acts, w.dx, hid);
        }
        w.gemmPair.run(e);
        e.profile.stop(Part.GEMM_WINDOW, t0);
    }

    static double softmaxForwardLoss(Engine e, Window w) {
        LanguageModel m = e.model;
        logitsForward(e, w);
        int v = m.shape.vocab();
        long t0 = e.profile.start();
        java.util.Arrays.fill(w.lossPartials, 0);
        e.workers.forRange(0, w.inputs.length, (chunk, from, to) -> w.lossPartials[chunk] =
                SoftmaxCrossEntropy.forward(w.acts, w.logits, m.params, m.layout.softmaxBias,
                        w.targets, 0, from, to, v, w.acts, w.softmaxScratch + (long) chunk * v));
        e.profile.stop(Part.SOFTMAX, t0);
        return sum(w.lossPartials);
    }

    /**
     * C[m×n] = op(A)·op(B) + beta·C in the engine's precision: float32 operands from the slabs'
     * float32 side (OpenBLAS), or bf16 operands from their mirrors at the same offsets (oneDNN).
     */
    static void gemm(Engine e, boolean transA, boolean transB, int m, int n, int k, Slab a, long aOff, int lda,
                     Slab b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
        if (e.bf16) {
            OneDnn.gemmBf16(transA, transB, m, n, k, 1f, a.bf16(), aOff, lda, b.bf16(), bOff, ldb, beta, c, cOff, ldc);
        } else {
            Blas.sgemm(transA, transB, m, n, k, 1f, a.f32(), aOff, lda, b.f32(), bOff, ldb, beta, c, cOff, ldc);
        }
    }

    /** bf16 mode: copies n floats at {@code off} of the window into its mirror, rounded; nothing in fp32 mode. */
    static void toBf16(Window w, long off, long n) {
        if (w.half != null) Bf16.fromFloats(w.acts, off, w.half, off, n);
    }

    private static double sum(double[] xs) {
        double s = 0;
        for (double x : xs) s += x;
        return s;
    }
}
