package lstmlm.model;

import lstmlm.modelfile.ModelShape;
import lstmlm.natives.ThreadPolicy;

import java.util.ArrayList;
import java.util.List;

/**
 * One running engine: a model's parameters and gradients, the windows its passes run over, the
 * team of threads that splits their rows, and the products {@link ProductPolicy} chose for them;
 * it runs a window's passes in order ({@link #trainWindow}, {@link #evalWindow}) and the update.
 * Training, evaluation ({@code lstmlm.train.Evaluation}), the benchmarks and the tests all build
 * one, so this wiring exists once.
 *
 * <p><b>Threads.</b> {@code threads} is both the size of the Java team ({@link WorkerTeam}) and
 * OpenBLAS's thread count, which the engine sets through {@link ThreadPolicy} when it is built
 * ({@link #runSideBySide} runs two one-thread GEMMs side by side and restores it). So one process
 * runs one engine at a time; the inference API ({@code lstmlm.infer}) never builds one and never
 * touches the count.
 *
 * <p><b>Windows</b> are allocated once, here, sized for this engine's team (their per-thread
 * scratch must match the team that runs them), and freed with the engine.
 */
public final class Engine implements AutoCloseable {
    public final ModelShape shape;
    final LanguageModel model;
    final WorkerTeam workers;
    final StepProfile profile;
    final Precision precision;
    /** precision == BF16. */
    final boolean bf16;
    /** How the whole-window GEMMs run: in this engine's precision, chosen once here. */
    final WindowProducts products;
    /**
     * Non-null when bf16 mode runs the per-step recurrent products in oneDNN bf16 too (each window
     * then gets its {@link PackedSteps}), and where they read W_rec; null when they run in fp32 (the
     * few-row kernel). See {@link ProductPolicy#bf16StepsOnThisCpu}.
     */
    private final PackedSteps.Weights stepWeights;
    private final int threads;
    private final List<Window> windows = new ArrayList<>();

    /** An engine with a zero model (call {@code model().initialize} or restore a checkpoint) and no profile. */
    public Engine(ModelShape shape, int threads) {
        this(shape, threads, Precision.FP32, StepProfile.off());
    }

    public Engine(ModelShape shape, int threads, Precision precision) {
        this(shape, threads, precision, StepProfile.off());
    }

    /**
     * In bf16 mode the engine loads oneDNN now (a missing library fails here, not mid-run) and sets
     * the OpenMP team of the calling thread, which must be the thread that drives the passes.
     */
    public Engine(ModelShape shape, int threads, Precision precision, StepProfile profile) {
        this(shape, threads, precision, profile,
                precision == Precision.BF16 && ProductPolicy.bf16StepsOnThisCpu() ? PackedSteps.Weights.BY_SIZE : null);
    }

    /**
     * As above, with the per-step products in bf16 mode chosen by the caller (tests run each): fp32
     * when {@code stepWeights} is null, else bf16 reading W_rec packed or in place.
     */
    Engine(ModelShape shape, int threads, Precision precision, StepProfile profile, PackedSteps.Weights stepWeights) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.shape = shape;
        this.threads = threads;
        this.profile = profile;
        this.precision = precision;
        this.bf16 = precision == Precision.BF16;
        this.products = ProductPolicy.windowProducts(bf16);
        this.stepWeights = bf16 ? stepWeights : null;
        ThreadPolicy.useBlasThreads(threads);
        if (bf16) ThreadPolicy.useOpenMpThreads(threads);
        this.model = new LanguageModel(shape, bf16);
        this.workers = new WorkerTeam(threads);
    }

    /** Bytes of the largest window's activations (both slabs and its packed weights). */
    public long activationBytes() {
        return windows.stream().mapToLong(Window::bytes).max().orElse(0);
    }

    public LanguageModel model() {
        return model;
    }

    public int threads() {
        return threads;
    }

    public StepProfile profile() {
        return profile;
    }

    public Precision precision() {
        return precision;
    }

    /** What the per-step recurrent products compute in: bf16 only in bf16 mode where {@link ProductPolicy#bf16StepsOnThisCpu}. */
    public Precision stepPrecision() {
        return stepWeights != null ? Precision.BF16 : Precision.FP32;
    }

    /** A window with the buffers that training with {@code dropouts} needs (none for {@link DropoutPlan#NONE}). */
    public Window newWindow(int batch, int steps, DropoutPlan dropouts) {
        Window w = new Window(shape, batch, steps, dropouts.masksNeeded(), dropouts.recurrent() < 1f, threads, bf16, stepWeights);
        windows.add(w);
        return w;
    }

    /**
     * A data-parallel rank's part of a window: rows [firstRow, firstRow + batch) of a global batch of
     * {@code globalBatch} sequences. Its loss is divided by globalBatch and its dropout masks are the
     * global window's at these rows, so the ranks' gradients sum to the whole window's.
     */
    public Window newWindow(int firstRow, int batch, int globalBatch, int steps, DropoutPlan dropouts) {
        Window w = new Window(shape, firstRow, batch, globalBatch, steps, dropouts.masksNeeded(), dropouts.recurrent() < 1f, threads, bf16, stepWeights);
        windows.add(w);
        return w;
    }

    /**
     * One training window: forward, loss, backward into the gradients ({@link Passes#trainWindow}).
     * The window's inputs and targets must be filled; its final state is carried to the next window.
     *
     * @return the summed cross-entropy over the window's B·T tokens (nats)
     */
    public double trainWindow(Window w, DropoutPlan dropouts, long dropoutSeed) {
        Passes.checkBuffers(w, dropouts);
        int layers = shape.layers();
        for (int l = 0; l < layers; l++) w.outputDropped[l] = dropouts.outputKeep(l, layers) < 1f;
        model.refreshBf16Mirror();
        profile.beginStage();
        Passes.embeddingForward(this, w, dropouts, dropoutSeed);
        profile.endStage(StepProfile.Part.OTHER_KERNELS);
        for (int l = 0; l < layers; l++) {
            profile.beginStage();
            Passes.lstmForward(this, w, l, dropouts, dropoutSeed);
            profile.endStage(StepProfile.Part.CELL);
        }
        profile.beginStage();
        double loss = Passes.softmaxForwardBackward(this, w, dropouts, dropoutSeed);
        Passes.softmaxBackward(this, w);
        profile.endStage(StepProfile.Part.SOFTMAX);
        for (int l = layers - 1; l >= 0; l--) {
            profile.beginStage();
            Passes.lstmBackward(this, w, l, dropouts);
            profile.endStage(StepProfile.Part.CELL);
        }
        profile.beginStage();
        Passes.embeddingBackward(this, w, dropouts);
        model.markTouchedRows(w.inputs, w.inputs.length);
        w.carryState();
        profile.endStage(StepProfile.Part.OTHER_KERNELS);
        return loss;
    }

    /** {@link #trainWindow(Window, DropoutPlan, long)} with TensorFlow's dropout at {@code keepProb}. */
    public double trainWindow(Window w, float keepProb, long dropoutSeed) {
        return trainWindow(w, DropoutPlan.tensorFlow(keepProb), dropoutSeed);
    }

    /** Global-norm clipping then SGD over the gradients of the last training window; returns the norm before clipping. */
    public double update(float learningRate, float maxGradNorm) {
        return update(learningRate, maxGradNorm, 0f);
    }

    /**
     * The same with L2 weight decay: {@code weightDecay}·θ is added to every gradient (the loss
     * gains weightDecay/2·‖θ‖²) before the norm is taken, as a loss term would be.
     */
    public double update(float learningRate, float maxGradNorm, float weightDecay) {
        long t0 = profile.start();
        double norm = model.clipAndUpdate(learningRate, maxGradNorm, weightDecay, workers);
        profile.stop(StepProfile.Part.UPDATE, t0);
        return norm;
    }

    /**
     * The data-parallel update: the gradients of this rank's part of the window summed over the ranks
     * of {@code comm} (one in-place allreduce of the whole gradient slab), then clipping and SGD as
     * {@link #update(float, float, float)}, identical on every rank since every rank holds the same
     * sums. The embedding is updated densely: the ranks read different rows, and an untouched row's
     * summed gradient is exactly 0, so its step leaves it as it is. With one rank, just the update.
     *
     * @return the global norm before clipping
     */
    public double update(float learningRate, float maxGradNorm, float weightDecay, lstmlm.natives.Communicator comm) {
        if (comm.size() == 1) return update(learningRate, maxGradNorm, weightDecay);
        long t0 = profile.start();
        comm.allreduceSum(model.grads, 0, model.layout.size);
        t0 = profile.stop(StepProfile.Part.ALLREDUCE, t0);
        double norm = model.clipAndUpdate(learningRate, maxGradNorm, weightDecay, workers, true);
        profile.stop(StepProfile.Part.UPDATE, t0);
        return norm;
    }

    /**
     * One step of SGD, as training and the training benchmark both run it: the window's forward and
     * backward ({@link #trainWindow(Window, DropoutPlan, long)}), then the update over the ranks of
     * {@code comm} ({@link #update(float, float, float, lstmlm.natives.Communicator)}).
     *
     * @return this rank's summed cross-entropy over its rows of the window (nats)
     */
    public double trainStep(Window w, DropoutPlan dropouts, long dropoutSeed, float learningRate, float maxGradNorm,
                            float weightDecay, lstmlm.natives.Communicator comm) {
        double loss = trainWindow(w, dropouts, dropoutSeed);
        update(learningRate, maxGradNorm, weightDecay, comm);
        return loss;
    }

    /** Forward only, no dropout: the summed loss of one window; its final state is carried. */
    public double evalWindow(Window w) {
        java.util.Arrays.fill(w.outputDropped, false);
        model.refreshBf16Mirror();
        profile.beginStage();
        Passes.embeddingForward(this, w, DropoutPlan.NONE, 0);
        profile.endStage(StepProfile.Part.OTHER_KERNELS);
        for (int l = 0; l < shape.layers(); l++) {
            profile.beginStage();
            Passes.lstmForward(this, w, l, DropoutPlan.NONE, 0);
            profile.endStage(StepProfile.Part.CELL);
        }
        profile.beginStage();
        double loss = Passes.softmaxForwardLoss(this, w);
        profile.endStage(StepProfile.Part.SOFTMAX);
        profile.beginStage();
        w.carryState();
        profile.endStage(StepProfile.Part.OTHER_KERNELS);
        return loss;
    }

    /** Whether two independent GEMMs run faster side by side, one OpenBLAS thread each, than one after the other. */
    boolean pairsSideBySide() {
        return threads == 2;
    }

    /**
     * Runs a two-chunk task on the team with OpenBLAS at one thread, then restores this engine's
     * count: only for {@link GemmPair}, and only when {@link #pairsSideBySide()}.
     */
    void runSideBySide(WorkerTeam.RangeTask pair) {
        if (bf16) {
            sideBySide = pair;
            workers.forRange(0, 2, oneOpenMpThreadEach);
            return;
        }
        ThreadPolicy.useBlasThreads(1);
        try {
            workers.forRange(0, 2, pair);
        } finally {
            ThreadPolicy.useBlasThreads(threads);
        }
    }

    private WorkerTeam.RangeTask sideBySide;
    /** bf16: OpenMP's team size is per thread, so each side sets its own to one and back. */
    private final WorkerTeam.RangeTask oneOpenMpThreadEach = this::withOneOpenMpThread;

    private void withOneOpenMpThread(int chunk, int from, int to) {
        ThreadPolicy.useOpenMpThreads(1);
        try {
            sideBySide.run(chunk, from, to);
        } finally {
            ThreadPolicy.useOpenMpThreads(threads);
        }
    }

    @Override
    public void close() {
        workers.close();
        for (Window w : windows) w.close();
        windows.clear();
        model.close();
    }
}
