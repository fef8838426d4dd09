package lstmlm.model;

import lstmlm.kernels.SkinnyGemm;
import lstmlm.modelfile.ModelShape;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Activations for one unrolled window of B sequences × T steps, in one off-heap slab allocated
 * once. Rows are time-major: row t·B + b is sequence b at step t. Offsets are in floats.
 *
 * <pre>
 * x0        [T·B x H]       embedded inputs (after dropout)
 * mask0     [T·B x H]       dropout mask of x0 (training with keep_prob &lt; 1 only)
 * per layer l:
 *   z[l]    [T·B x 4H]      gate pre-activations, then gate values, then their gradients
 *   c[l]    [(T+1)·B x H]   cell states; slot 0 is the state carried in from the last window
 *   h[l]    [(T+1)·B x H]   hidden states; slot 0 likewise
 *   tanhC[l] [T·B x H]      tanh of c[l] slots 1..T (forward computes it, backward reuses it)
 *   out[l]  [T·B x H]       dropout(h[l] slots 1..T) (only with dropout; else h[l] + B·H)
 *   mask[l] [T·B x H]
 *   hm[l]   [T·B x H]       recurrent dropout: h[l] slots 0..T-1 times the layer's recurrent mask
 *   recMask[l] [B x H]      that mask, one per sequence
 * recurrentGrad [B x H]     the recurrent product's gradient before its mask (recurrent dropout)
 * logits    [T·B x V]       logits, then d-logits in place (adaptive softmax: the head's, [T·B x N])
 * adaptive softmax, one tail cluster at a time (Dmax, Smax: the widest cluster's projection and words):
 *   tailInput [T·B x H]     the rows of the top layer's output whose target is in the cluster
 *   tailHidden [T·B x Dmax] their projection, then (tailHiddenGrad) its gradient
 *   tailMask [T·B x Dmax]   dropout mask of tailHidden (training with keep_prob_tail &lt; 1 only)
 *   tailLogits [T·B x Smax] the cluster's logits, then d-logits in place
 *   tailInputGrad [T·B x H] the gradient of tailInput, scattered back into dx
 * dx, dxAlt [T·B x H]       gradient of a layer's output / input, ping-ponged down the stack
 * dc        [B x H]         cell-state gradient carried backwards through time
 * dSoftmaxBias [workers x V] per-thread partial sums of d-logits (adaptive: of the widest of head and clusters)
 * softmaxScratch [workers x V] per-thread row of exponentials for the loss-only softmax (likewise)
 * stepScratch [workers x 4·48] per-thread tile for the few-row kernel's last panel
 * </pre>
 * In bf16 mode a second slab mirrors this one at the same element offsets ({@link #slab}): the
 * kernels that produce a GEMM input (x0, h, out, d-logits, dz) write its bf16 copy there too.
 * (The mirror has room for every buffer; only those few are written. Simpler offsets for 50 % more
 * activation memory.)
 */
public final class Window implements AutoCloseable {
    public final ModelShape shape;
    public final int batch, steps;
    /**
     * Data-parallel training: this window holds rows [firstRow, firstRow + batch) of a global batch
     * of globalBatch sequences, so the loss is divided by globalBatch and dropout masks take the
     * values the global window has at these rows. A single process: 0 and batch.
     */
    public final int firstRow, globalBatch;
    /** Buffers for dropping the input and layer outputs (masks, outputs); for recurrent dropout. */
    public final boolean dropout, recurrentDropout;
    public final int workers;
    /** Input and target ids, time-major [T·B]. */
    public final int[] inputs, targets;

    final MemorySegment acts;
    /** bf16 mirror of {@link #acts} at the same element offsets; null in fp32 mode. */
    final MemorySegment bf16Mirror;
    final Slab slab;
    final long x0, mask0, logits, dc, dSoftmaxBias, softmaxScratch, stepScratch, recurrentGrad;
    /** Adaptive softmax buffers (-1 with a full softmax) and row lists: see the class comment. */
    final long tailInput, tailHidden, tailHiddenGrad, tailMask, tailLogits, tailInputGrad;
    /** Adaptive softmax: each row's head target, then one cluster's rows and their targets inside it. */
    final int[] headTargets, tailRows, tailTargets;
    /** Swapped after each layer's backward: the gradient of the current layer's output is in dx. */
    long dx, dxAlt;
    final long[] z, c, h, tanhC, out, mask, hm, recMask;
    final double[] lossPartials;
    /** Word dropout: each row's embedding scale for this window (1 when off). */
    final float[] wordScale;
    /** Whether layer l's output goes through a mask in the window being run. */
    final boolean[] outputDropped;
    /** The per-step products' reusable task (this window's passes run on one thread at a time). */
    final RecurrentProduct recurrent = new RecurrentProduct();
    /** The per-step cell's reusable task, likewise. */
    final CellRows cellRows = new CellRows(this);
    final GemmPair gemmPair = new GemmPair();
    /** bf16 mode with bf16 step products: their packed weights and primitives; else null. */
    final PackedSteps packedSteps;
    /** How this window's per-step recurrent products run, chosen once here. */
    final StepProducts stepProducts;
    private final Arena arena;

    /** Windows are made by {@link Engine#newWindow}, sized for the team that runs them. */
    Window(ModelShape shape, int batch, int steps, boolean dropout, boolean recurrentDropout, int workers, boolean bf16,
           PackedSteps.Weights stepWeights) {
        this(shape, 0, batch, batch, steps, dropout, recurrentDropout, workers, bf16, stepWeights);
    }

    /** {@code stepWeights}: non-null when the per-step products run in bf16 ({@link PackedSteps}), and where they read W_rec. */
    Window(ModelShape shape, int firstRow, int batch, int globalBatch, int steps, boolean dropout, boolean recurrentDropout,
           int workers, boolean bf16, PackedSteps.Weights stepWeights) {
        if (batch < 1 || steps < 1) {
            throw new IllegalArgumentException("batch and steps must be positive: " + batch + ", " + steps);
        }
        if (firstRow < 0 || firstRow + batch > globalBatch) {
            throw new IllegalArgumentException("rows [" + firstRow + ", " + (firstRow + batch) + ") are not inside a global batch of "
                    + globalBatch);
        }
        this.shape = shape;
        this.firstRow = firstRow;
        this.globalBatch = globalBatch;
        this.batch = batch;
        this.steps = steps;
        this.dropout = dropout;
        this.recurrentDropout = recurrentDropout;
        this.workers = workers;
        int layers = shape.layers();
        long rows = (long) batch * steps, hid = shape.hidden(), v = shape.vocab();
        this.inputs = new int[(int) rows];
        this.targets = new int[(int) rows];
        long at = 0;
        x0 = at;
        at += rows * hid;
        mask0 = at;
        if (dropout) at += rows * hid;
        z = new long[layers];
        c = new long[layers];
        h = new long[layers];
        tanhC = new long[layers];
        out = new long[layers];
        mask = new long[layers];
        hm = new long[layers];
        recMask = new long[layers];
        for (int l = 0; l < layers; l++) {
            z[l] = at;
            at += rows * 4 * hid;
            c[l] = at;
            at += (rows + batch) * hid;
            h[l] = at;
            at += (rows + batch) * hid;
            tanhC[l] = at;
            at += rows * hid;
            if (dropout) {
                out[l] = at;
                at += rows * hid;
                mask[l] = at;
                at += rows * hid;
            } else {
                out[l] = h[l] + batch * hid;
                mask[l] = -1;
            }
            if (recurrentDropout) {
                hm[l] = at;
                at += rows * hid;
                recMask[l] = at;
                at += batch * hid;
            } else {
                hm[l] = recMask[l] = -1;
            }
        }
        var adaptive = shape.adaptive();
        long width = v, partials = v; // the logits' width; the widest softmax row (per-thread buffers)
        long maxProjection = 0, maxCluster = 0;
        if (adaptive != null) {
            width = adaptive.headSize();
            maxProjection = adaptive.maxProjection((int) hid);
            maxCluster = adaptive.maxSize((int) v);
            partials = Math.max(width, maxCluster);
        }
        logits = at;
        at += rows * width;
        if (adaptive != null) {
            tailInput = at;
            at += rows * hid;
            tailHidden = at;
            at += rows * maxProjection;
            tailHiddenGrad = at;
            at += rows * maxProjection;
            tailMask = at;
            if (dropout) at += rows * maxProjection;
            tailLogits = at;
            at += rows * maxCluster;
            tailInputGrad = at;
            at += rows * hid;
            headTargets = new int[(int) rows];
            tailRows = new int[(int) rows];
            tailTargets = new int[(int) rows];
        } else {
            tailInput = tailHidden = tailHiddenGrad = tailMask = tailLogits = tailInputGrad = -1;
            headTargets = tailRows = tailTargets = null;
        }
        dx = at;
        at += rows * hid;
        dxAlt = at;
        at += rows * hid;
        dc = at;
        at += batch * hid;
        dSoftmaxBias = at;
        at += (long) workers * partials;
        softmaxScratch = at;
        at += (long) workers * partials;
        stepScratch = at;
        at += (long) workers * SkinnyGemm.scratchSize();
        recurrentGrad = at;
        if (recurrentDropout) at += batch * hid;
        this.arena = Arena.ofShared();
        // zero-filled by the allocation, which also touches every page now rather than mid-run
        this.acts = arena.allocate(at * Float.BYTES, 64);
        this.bf16Mirror = bf16 ? arena.allocate(at * 2, 64) : null;
        this.slab = new Slab(acts, bf16Mirror);
        this.lossPartials = new double[workers];
        this.wordScale = new float[(int) rows];
        this.outputDropped = new boolean[layers];
        this.packedSteps = stepWeights != null ? new PackedSteps(shape, batch, workers, stepWeights) : null;
        this.stepProducts = ProductPolicy.stepProducts(this);
    }

    /** Bytes of activation memory (with the bf16 mirror). */
    public long bytes() {
        return acts.byteSize() + (bf16Mirror != null ? bf16Mirror.byteSize() : 0) + (packedSteps != null ? packedSteps.packedBytes() : 0);
    }

    void swapGradientBuffers() {
        long t = dx;
        dx = dxAlt;
        dxAlt = t;
    }

    /** Zeroes the carried LSTM state, as at the start of an epoch or an evaluation. */
    public void resetState() {
        long stateFloats = (long) batch * shape.hidden();
        for (int l = 0; l < shape.layers(); l++) {
            acts.asSlice(c[l] * Float.BYTES, stateFloats * Float.BYTES).fill((byte) 0);
            acts.asSlice(h[l] * Float.BYTES, stateFloats * Float.BYTES).fill((byte) 0);
        }
    }

    /** Moves the final state of this window into slot 0, where the next window starts. */
    void carryState() {
        long stateFloats = (long) batch * shape.hidden();
        long last = steps * stateFloats;
        for (int l = 0; l < shape.layers(); l++) {
            MemorySegment.copy(acts, (c[l] + last) * Float.BYTES, acts, c[l] * Float.BYTES, stateFloats * Float.BYTES);
            MemorySegment.copy(acts, (h[l] + last) * Float.BYTES, acts, h[l] * Float.BYTES, stateFloats * Float.BYTES);
        }
    }

    /** The carried state (c then h, layer by layer), for checkpoints and tests. */
    public float[] state() {
        long stateFloats = (long) batch * shape.hidden();
        float[] s = new float[(int) (2 * shape.layers() * stateFloats)];
        int at = 0;
        for (int l = 0; l < shape.layers(); l++) {
            MemorySegment.copy(acts, java.lang.foreign.ValueLayout.JAVA_FLOAT, c[l] * Float.BYTES, s, at, (int) stateFloats);
            at += (int) stateFloats;
            MemorySegment.copy(acts, java.lang.foreign.ValueLayout.JAVA_FLOAT, h[l] * Float.BYTES, s, at, (int) stateFloats);
            at += (int) stateFloats;
        }
        return s;
    }

    /** Restores a state written by {@link #state()}. */
    public void setState(float[] s) {
        long stateFloats = (long) batch * shape.hidden();
        if (s.length != 2 * shape.layers() * stateFloats) {
            throw new IllegalArgumentException("state has " + s.length + " floats, this window needs "
                    + 2 * shape.layers() * stateFloats);
        }
        int at = 0;
        for (int l = 0; l < shape.layers(); l++) {
            MemorySegment.copy(s, at, acts, java.lang.foreign.ValueLayout.JAVA_FLOAT, c[l] * Float.BYTES, (int) stateFloats);
            at += (int) stateFloats;
            MemorySegment.copy(s, at, acts, java.lang.foreign.ValueLayout.JAVA_FLOAT, h[l] * Float.BYTES, (int) stateFloats);
            at += (int) stateFloats;
        }
    }

    @Override
    public void close() {
        if (packedSteps != null) packedSteps.close();
        arena.close();
    }
}
