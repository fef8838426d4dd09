package lstmlm.model;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.SkinnyGemm;
import lstmlm.kernels.VectorMath;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The parameters and their gradients: two off-heap slabs with the same {@link ParameterLayout}.
 * Both are allocated (and so zero-filled and touched) once, here; nothing is allocated per step.
 */
public final class LanguageModel implements AutoCloseable {
    public final ModelShape shape;
    public final ParameterLayout layout;
    /**
     * The parameters. Code that writes them other than through {@link #initialize} or
     * {@link #clipAndUpdate} (restoring a checkpoint, say) must call {@link #parametersChanged}.
     */
    public final MemorySegment params;
    public final MemorySegment grads;
    /**
     * bf16 mode: a bf16 mirror of {@link #params} at the same element offsets, the weights the bf16
     * GEMMs read (the embedding's part is unused: the gather reads float32 rows). Refreshed by the
     * update and, after a direct write, by {@link #refreshBf16Mirror}. Null in fp32 mode.
     */
    final MemorySegment bf16Mirror;
    final Slab slab;
    /** The gradients as a product's output (float32 only). */
    final Slab gradSlab;
    private long mirrorVersion = -1;
    /**
     * Per layer, W_rec [H × 4H] and W_recᵀ [4H × H] packed into column panels for the few-row
     * kernel ({@link lstmlm.kernels.SkinnyGemm}): the forward and the backward recurrent products.
     * Backward repacks W_recᵀ every window; forward repacks W_rec when the weights changed.
     */
    final MemorySegment recurrentPanels;
    /** Bumped on every change of {@link #params}; the forward panels remember the value they were packed at. */
    private long version;
    private final long[] forwardPackedAt;
    private final Arena arena;

    /** Embedding rows touched by the current window: their gradients are the only nonzero ones. */
    private final int[] touchedRows;
    private final int[] touchedStamp;
    private int touchedCount, stamp;

    public LanguageModel(ModelShape shape) {
        this(shape, false);
    }

    /** @param withBf16Mirror keep a bf16 mirror of the weights for bf16 GEMMs */
    public LanguageModel(ModelShape shape, boolean withBf16Mirror) {
        this.shape = shape;
        this.layout = new ParameterLayout(shape);
        this.arena = Arena.ofShared();
        this.params = arena.allocate(layout.size * Float.BYTES, 64);
        this.grads = arena.allocate(layout.size * Float.BYTES, 64);
        this.recurrentPanels = arena.allocate(shape.layers() * (forwardPanelsSize() + backwardPanelsSize()) * Float.BYTES, 64);
        this.bf16Mirror = withBf16Mirror ? arena.allocate(layout.size * 2, 64) : null;
        this.slab = new Slab(params, bf16Mirror);
        this.gradSlab = new Slab(grads, null);
        this.forwardPackedAt = new long[shape.layers()];
        java.util.Arrays.fill(forwardPackedAt, -1);
        this.touchedRows = new int[shape.vocab()];
        this.touchedStamp = new int[shape.vocab()];
    }

    public long parameterCount() {
        return layout.size;
    }

    /**
     * TensorFlow's tutorial initialisation: every variable uniform in [-scale, scale], except the
     * LSTM biases, which BasicLSTMCell creates with a zeros initialiser. Drawn in slab order from
     * one seeded stream, so a seed fixes the model.
     */
    public void initialize(long seed, float scale) {
        SplittableRandom random = new SplittableRandom(seed);
        for (ParameterLayout.Tensor t : layout.tensors()) {
            boolean zero = t.name().startsWith("lstm.") && t.name().endsWith(".bias");
            for (long i = 0; i < t.size(); i++) {
                float v = zero ? 0f : (float) ((random.nextDouble() * 2 - 1) * scale);
                params.setAtIndex(JAVA_FLOAT, t.offset() + i, v);
            }
        }
        grads.fill((byte) 0);
        parametersChanged();
    }

    /** Tells the model its parameters were written directly, so derived copies are rebuilt. */
    /**
     * Copies every weight of {@code file} (same shape) into the float32 parameters, widening bf16 and
     * scaling int8 back, and marks them changed.
     */
    public void load(ModelFile file) {
        if (!shape.equals(file.shape())) {
            throw new IllegalArgumentException("model file " + file.path() + " holds shape " + file.shape() + ", not " + shape);
        }
        file.copyInto(params);
        parametersChanged();
    }

    public void parametersChanged() {
        version++;
    }

    /** Counts parameter changes: a copy derived from the parameters is current while this has not moved. */
    long version() {
        return version;
    }

    /** bf16 mode: converts the dense weights into the bf16Mirror unless it already holds these parameters. */
    void refreshBf16Mirror() {
        if (bf16Mirror == null || mirrorVersion == version) return;
        Bf16.fromFloats(params, layout.denseStart, bf16Mirror, layout.denseStart, layout.size - layout.denseStart);
        mirrorVersion = version;
    }

    /**
     * Whether layer l's packed W_rec for the forward steps is current. Training changes the
     * weights every window, so it repacks every window; evaluation packs once per pass over the
     * data, which matters at batch 1 × 1 step (the test split), where a repack per token cost
     * more than the token.
     */
    boolean forwardPanelsCurrent(int layer) {
        return forwardPackedAt[layer] == version;
    }

    void forwardPanelsPacked(int layer) {
        forwardPackedAt[layer] = version;
    }

    private long forwardPanelsSize() {
        return SkinnyGemm.packedSize(shape.hidden(), shape.gates());
    }

    private long backwardPanelsSize() {
        return SkinnyGemm.packedSize(shape.gates(), shape.hidden());
    }

    /** Offset of layer l's packed W_rec in {@link #recurrentPanels}. */
    long forwardPanelsOffset(int layer) {
        return layer * (forwardPanelsSize() + backwardPanelsSize());
    }

    /** Offset of layer l's packed W_recᵀ in {@link #recurrentPanels}. */
    long backwardPanelsOffset(int layer) {
        return forwardPanelsOffset(layer) + forwardPanelsSize();
    }

    /** Records which embedding rows a window reads, so the update visits only those. */
    void markTouchedRows(int[] ids, int n) {
        if (++stamp == Integer.MAX_VALUE) {
            java.util.Arrays.fill(touchedStamp, 0);
            stamp = 1;
        }
        touchedCount = 0;
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (touchedStamp[id] != stamp) {
                touchedStamp[id] = stamp;
                touchedRows[touchedCount++] = id;
            }
        }
    }

    /**
     * Global-norm clipping followed by plain SGD, like {@code tf.clip_by_global_norm} then
     * {@code GradientDescentOptimizer}; with {@code weightDecay} > 0 first g += weightDecay·θ on
     * every parameter (the loss's weightDecay/2·‖θ‖² term), so decay is clipped with the rest.
     *
     * <p>The embedding is updated sparsely, only the rows the window read, unless its gradient is
     * dense: tied (the softmax reaches every row) or decayed. Dense gradients are overwritten by the
     * next backward pass (GEMMs with β = 0); the untied embedding's gradient is accumulated into by
     * the scatter-add, so it is zeroed here.
     *
     * @return the global gradient norm before clipping
     */
    double clipAndUpdate(float learningRate, float maxGradNorm, float weightDecay, WorkerTeam workers) {
        return clipAndUpdate(learningRate, maxGradNorm, weightDecay, workers, false);
    }

    /** The same; {@code denseEmbedding} updates (and then zeroes) every embedding row, as data-parallel ranks need. */
    double clipAndUpdate(float learningRate, float maxGradNorm, float weightDecay, WorkerTeam workers, boolean denseEmbedding) {
        long h = shape.hidden();
        boolean sparseEmbedding = !denseEmbedding && !shape.tied() && weightDecay == 0f;
        long start = sparseEmbedding ? layout.denseStart : 0;
        long dense = layout.size - start;
        int n = workers.size();
        addWeightDecay(weightDecay, workers);
        double sumSq = sumOfSquares(start, workers);
        if (sparseEmbedding) {
            for (int k = 0; k < touchedCount; k++) {
                sumSq += VectorMath.sumOfSquares(grads, layout.embedding + touchedRows[k] * h, h);
            }
        }
        double norm = Math.sqrt(sumSq);
        float clip = norm > maxGradNorm ? (float) (maxGradNorm / norm) : 1f;
        float step = learningRate * clip;
        workers.forRange(0, n, (chunk, from, to) -> {
            long lo = start + dense * from / n, hi = start + dense * to / n;
            if (bf16Mirror == null) {
                VectorMath.sgdStep(params, lo, grads, lo, hi - lo, step);
            } else {
                // the bf16Mirror written while each block is still in L1: one pass over memory, not two
                for (long at = lo; at < hi; at += SHADOW_BLOCK) {
                    long len = Math.min(SHADOW_BLOCK, hi - at);
                    VectorMath.sgdStep(params, at, grads, at, len, step);
                    Bf16.fromFloats(params, at, bf16Mirror, at, len);
                }
            }
        });
        if (sparseEmbedding) {
            for (int k = 0; k < touchedCount; k++) {
                long row = layout.embedding + touchedRows[k] * h;
                VectorMath.sgdStep(params, row, grads, row, h, step);
                VectorMath.fill(grads, row, h, 0f);
            }
        } else if (!shape.tied()) {
            VectorMath.fill(grads, layout.embedding, (long) shape.vocab() * h, 0f); // decay reached every row
        }
        parametersChanged();
        if (bf16Mirror != null) mirrorVersion = version; // the update wrote it (a sparse embedding's part is never read)
        return norm;
    }

    /** g += weightDecay·θ on every parameter (the gradient of the loss term weightDecay/2·‖θ‖²); nothing when 0. */
    void addWeightDecay(float weightDecay, WorkerTeam workers) {
        if (weightDecay == 0f) return;
        long size = layout.size;
        int n = workers.size();
        workers.forRange(0, n, (chunk, from, to) -> {
            long lo = size * from / n, hi = size * to / n;
            VectorMath.axpy(weightDecay, params, lo, grads, lo, hi - lo);
        });
    }

    /** Floats updated then converted at a time in bf16 mode: 16 KB, well inside L1. */
    private static final long SHADOW_BLOCK = 4096;

    /** One partial sum per thread of the team that last computed the norm (grown once, on first use). */
    private double[] partialSums = new double[0];

    /** Σ g² over [start, size), split over the team in a fixed way. */
    private double sumOfSquares(long start, WorkerTeam workers) {
        long dense = layout.size - start;
        int n = workers.size();
        if (partialSums.length < n) partialSums = new double[n];
        workers.forRange(0, n, (chunk, from, to) -> {
            long lo = dense * from / n, hi = dense * to / n;
            partialSums[from] = VectorMath.sumOfSquares(grads, start + lo, hi - lo);
        });
        double s = 0;
        for (int i = 0; i < n; i++) s += partialSums[i];
        return s;
    }

    @Override
    public void close() {
        arena.close();
    }
}
