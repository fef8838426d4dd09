package lstmlm.train;

import lstmlm.data.BatchProducer;
import lstmlm.data.Corpus;
import lstmlm.kernels.Dropout;
import lstmlm.model.DropoutPlan;
import lstmlm.model.Engine;
import lstmlm.model.LanguageModel;
import lstmlm.model.Precision;
import lstmlm.model.ProductPolicy;
import lstmlm.model.Window;
import lstmlm.natives.Communicator;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * TensorFlow's {@code ptb_word_lm} main loop: for each epoch set the decayed learning rate, train
 * over the whole training split with state carried from window to window, then evaluate valid
 * (training batch and steps); at the end evaluate test with batch 1 and 1 step. It prints nothing
 * itself: everything it reports goes to its {@link TrainingListener}, and {@link TensorFlowLines}
 * prints the tutorial's lines from those events.
 */
public final class Trainer implements AutoCloseable {
    private final Config config;
    private final Corpus corpus;
    private final long seed;
    private final Engine engine;
    private final Window trainWindow;
    private final Window testWindow;
    /** The ranks of a data-parallel run ({@link Communicator#SINGLE} for one process). */
    private final Communicator comm;
    private long globalStep;
    /** The run's position: the epoch in progress, windows of it done, TF's running sums, carried state. */
    private int epoch, stepInEpoch;
    private double costSum;
    private long iterations;
    /**
     * The LSTM state carried into the next training window, for the global batch [layers, 2, B, H]
     * as checkpoints store it (a data-parallel rank's window holds its own rows of it); null at an epoch start.
     */
    private float[] carriedState;
    private final List<Double> trainHistory = new ArrayList<>(), validHistory = new ArrayList<>();
    private double lastTestPerplexity = Double.NaN;
    private CheckpointStore store;
    private int checkpointEvery;
    private TrainingListener listener = TrainingListener.NONE;
    /**
     * The run's training time before this process (a restored checkpoint's; NaN when its file
     * predates {@code elapsed_s}), the time of this process's finished {@link #run} calls, and when
     * the one in progress began; the listeners and checkpoints get the sum. And the last training
     * pass's speed.
     */
    private double elapsedBefore, elapsedInEarlierRuns;
    private long runStart;
    private boolean running;
    private double lastEpochWordsPerSecond;
    /** Set from any thread (a signal handler); read between windows. */
    private volatile boolean stopRequested;
    private volatile Phase phase = Phase.IDLE;
    /** The position (epoch, step, global step) of the last checkpoint written, so a stop right after it writes no twin. */
    private long[] savedAt;

    /** What {@link #run} is doing: what a stop request interrupts. */
    public enum Phase { IDLE, TRAINING, VALIDATING, SAVING, TESTING }

    /** Perplexities of a finished run; valid and train have one entry per epoch. */
    public record Result(List<Double> trainPerplexity, List<Double> validPerplexity, double testPerplexity) {}

    /**
     * A new run of {@code config} on {@code corpus}: the model initialised from {@code seed}, on
     * {@code threads} threads. vocab_size is taken from the corpus's vocabulary when they differ.
     */
    public Trainer(Config config, Corpus corpus, long seed, int threads) {
        this(config, corpus, seed, threads, Communicator.SINGLE);
    }

    /**
     * A new run, data-parallel over the ranks of {@code comm}: rank r trains rows [r·B/N, (r+1)·B/N)
     * of every window of the global batch B (with its own carried state), the gradients are summed
     * before clipping, so every rank makes the same update and the run is the single process's.
     * Every rank must make the same calls; only rank 0 writes checkpoints, and listeners belong on rank 0.
     */
    public Trainer(Config config, Corpus corpus, long seed, int threads, Communicator comm) {
        this(config, corpus, seed, threads, comm, ProductPolicy.gemmPrecision(config.precision()));
    }

    /**
     * The same with the GEMMs computing in {@code gemmPrecision} whatever this CPU: the constructors
     * above pass {@link ProductPolicy#gemmPrecision}, which runs a bf16 config's GEMMs in fp32 on a
     * CPU without native bf16; the tests pass the config's own to exercise oneDNN's bf16 GEMM anywhere.
     */
    Trainer(Config config, Corpus corpus, long seed, int threads, Communicator comm, Precision gemmPrecision) {
        if (corpus.vocabulary().size() != config.vocabSize()) {
            // the model has one output class per word of the data's vocabulary
            config = config.withVocabSize(corpus.vocabulary().size());
        }
        this.config = config;
        this.corpus = corpus;
        this.seed = seed;
        if (comm.size() > config.batchSize()) {
            throw new ConfigException(comm.size() + " ranks need a batch_size of at least " + comm.size()
                    + " (each trains its rows of the batch); the config has " + config.batchSize() + ".");
        }
        this.comm = comm;
        this.engine = new Engine(config.shape(), threads, gemmPrecision);
        engine.model().initialize(seed, (float) config.initScale());
        int b = config.batchSize(), first = comm.rank() * b / comm.size(), rows = (comm.rank() + 1) * b / comm.size() - first;
        this.trainWindow = comm.size() == 1 ? engine.newWindow(b, config.numSteps(), config.dropouts())
                : engine.newWindow(first, rows, b, config.numSteps(), config.dropouts());
        this.testWindow = engine.newWindow(1, 1, DropoutPlan.NONE);
    }

    /** The config the run uses: the one given, with vocab_size the size of the data's vocabulary. */
    public Config config() {
        return config;
    }

    public LanguageModel model() {
        return engine.model();
    }

    public Engine engine() {
        return engine;
    }

    /**
     * Continues from a checkpoint: its weights, its position in the epoch loop (epoch, step,
     * running cost, carried state) and its global step, which with the seed fixes the dropout
     * masks. The checkpoint must come from this config, seed and data ({@link Checkpoint#checkResumable}).
     */
    public void restore(Checkpoint c) {
        c.checkResumable(config, seed, corpus.vocabulary(), epochSize());
        Checkpoint.Progress p = c.progress();
        c.copyWeightsInto(engine.model());
        globalStep = p.globalStep();
        epoch = p.epoch();
        stepInEpoch = p.step();
        costSum = p.costSum();
        iterations = p.iterations();
        carriedState = p.step() > 0 ? p.lstmState().clone() : null;
        trainHistory.clear();
        trainHistory.addAll(p.trainPerplexities());
        validHistory.clear();
        validHistory.addAll(p.validPerplexities());
        elapsedBefore = p.elapsedSeconds();
    }

    private int epochSize() {
        return new BatchProducer(corpus.train(), config.batchSize(), config.numSteps()).epochSize();
    }

    /**
     * Writes a checkpoint to {@code store} at every epoch end (then also {@code best.safetensors}
     * when the valid perplexity is the lowest so far) and, when {@code every > 0}, after every
     * {@code every}-th training window (by global step). In a data-parallel run every rank calls it
     * with the same folder and {@code every} (saving gathers the ranks' state, which all must join);
     * only rank 0 writes.
     */
    public void checkpointTo(CheckpointStore store, int every) {
        if (every < 0) throw new ConfigException("--checkpoint-every must be 0 (epoch ends only) or more, got " + every);
        this.store = store;
        this.checkpointEvery = every;
    }

    /**
     * Asks {@link #run} to stop at the next point where the run's position is exact: after the training
     * window in progress, or at once during a validation or test pass (which a resume repeats), or
     * after the checkpoint being written. It then writes a checkpoint of that position (unless the
     * last one already is) and throws {@link TrainingStoppedException}. Safe to call from any thread,
     * a signal handler's included.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /** What the run is doing now (from any thread). */
    public Phase phase() {
        return phase;
    }

    /** Tells {@code listener} about every epoch, window, TF progress line, checkpoint and the test (replacing any earlier one). */
    public void listen(TrainingListener listener) {
        this.listener = listener != null ? listener : TrainingListener.NONE;
    }

    /** 0-based epoch the next training window belongs to. */
    public int epoch() {
        return epoch;
    }

    public int stepInEpoch() {
        return stepInEpoch;
    }

    public long globalStep() {
        return globalStep;
    }

    /** Where the run stands now, as a checkpoint records it. */
    public Checkpoint.Progress progress() {
        float[] state = carriedState != null ? carriedState
                : new float[2 * config.numLayers() * config.batchSize() * config.hiddenSize()];
        return new Checkpoint.Progress(seed, epoch, stepInEpoch, epochSize(), globalStep, config.learningRate(epoch, validHistory),
                costSum, iterations, state, trainHistory, validHistory, elapsedBefore + thisProcessSeconds());
    }

    /**
     * Trains until {@code epochs} epochs are done in all (counting those before a restore; at
     * most max_max_epoch), then evaluates test.
     */
    public Result run(int epochs) {
        runStart = System.nanoTime();
        running = true;
        try {
            while (epoch < epochs) {
                double lr = config.learningRate(epoch, validHistory);
                listener.onEpochStart(new TrainingListener.EpochStart(epoch + 1, lr));
                phase = Phase.TRAINING;
                double train = runTrainingEpoch((float) lr);
                listener.onTrainingPass(new TrainingListener.TrainingPass(epoch + 1, lr, train));
                phase = Phase.VALIDATING;
                double valid = validate();
                if (stopAgreed()) throw stop(); // the position is the pass's end: a resume validates again
                trainHistory.add(train);
                validHistory.add(valid);
                // before the checkpoint: a crash in between repeats the epoch rather than losing its record
                listener.onEpoch(new TrainingListener.EpochEnd(epoch + 1, lr, train, valid, lastEpochWordsPerSecond, elapsedSeconds()));
                epoch++;
                stepInEpoch = 0;
                costSum = 0;
                iterations = 0;
                carriedState = null;
                if (store != null) {
                    Checkpoint.Progress p = progress();
                    listener.onCheckpoint(save(p));
                    if (comm.rank() == 0 && valid <= validHistory.stream().mapToDouble(Double::doubleValue).min().orElseThrow()) {
                        store.saveBest(config, corpus.vocabulary(), engine.model(), p, valid);
                    }
                }
                if (stopAgreed()) throw stop();
            }
            phase = Phase.TESTING;
            // every rank evaluates the whole test stream (batch 1 cannot be split): the same numbers on each
            double test = Evaluation.perplexity(engine, testWindow, corpus.test(), () -> comm.size() == 1 && stopRequested);
            if (stopAgreed()) throw stop();
            lastTestPerplexity = test;
            listener.onTest(new TrainingListener.TestEnd(epoch, test, elapsedSeconds()));
            return new Result(List.copyOf(trainHistory), List.copyOf(validHistory), test);
        } finally {
            elapsedInEarlierRuns = thisProcessSeconds();
            running = false;
            phase = Phase.IDLE;
        }
    }

    /**
     * The validation perplexity, with the training batch and steps. Data-parallel: each rank its rows,
     * the loss sums added in double; not cancelled midway (the ranks could not agree where).
     */
    private double validate() {
        if (comm.size() == 1) return Evaluation.perplexity(engine, trainWindow, corpus.valid(), () -> stopRequested);
        Window w = trainWindow;
        BatchProducer producer = new BatchProducer(corpus.valid(), w.globalBatch, w.steps);
        w.resetState();
        double[] loss = {0};
        for (int step = 0; step < producer.epochSize(); step++) {
            producer.window(step, w.firstRow, w.batch, w.inputs, w.targets);
            double l = engine.evalWindow(w);
            Evaluation.checkFiniteEvaluation(l, step);
            loss[0] += l;
        }
        comm.allreduceSum(loss);
        return Math.exp(loss[0] / w.globalBatch / ((long) producer.epochSize() * w.steps));
    }

    /** Whether a stop was asked for, on any rank (every rank must ask this at the same points). */
    private boolean stopAgreed() {
        if (comm.size() == 1) return stopRequested;
        double[] flag = {stopRequested ? 1 : 0};
        comm.allreduceSum(flag);
        return flag[0] > 0;
    }

    /** Rows [firstRow, firstRow + rows) of a global state [layers, 2, B, H]: this rank's window's state. */
    private float[] localRows(float[] global) {
        Window w = trainWindow;
        if (w.batch == w.globalBatch) return global;
        int h = config.hiddenSize(), planes = 2 * config.numLayers();
        float[] local = new float[planes * w.batch * h];
        for (int p = 0; p < planes; p++) {
            System.arraycopy(global, (p * w.globalBatch + w.firstRow) * h, local, p * w.batch * h, w.batch * h);
        }
        return local;
    }

    /** The global state [layers, 2, B, H] from every rank's rows (collective: every rank calls it at the same point). */
    private float[] gatherRows(float[] local) {
        Window w = trainWindow;
        if (w.batch == w.globalBatch) return local;
        int h = config.hiddenSize(), planes = 2 * config.numLayers();
        float[] global = new float[planes * w.globalBatch * h];
        for (int p = 0; p < planes; p++) {
            System.arraycopy(local, p * w.batch * h, global, (p * w.globalBatch + w.firstRow) * h, w.batch * h);
        }
        comm.allreduceSum(java.lang.foreign.MemorySegment.ofArray(global), 0, global.length); // each row from one rank, zeros elsewhere
        return global;
    }

    /** A checkpoint of the position now (written by rank 0 only), remembered so that a stop right after it needs no other. */
    private Path save(Checkpoint.Progress p) {
        phase = Phase.SAVING;
        Path file = comm.rank() == 0 ? store.save(config, corpus.vocabulary(), engine.model(), p)
                : CheckpointStore.checkpointFile(store.dir(), p.globalStep());
        savedAt = new long[]{p.epoch(), p.step(), p.globalStep()};
        return file;
    }

    /** Writes the position (unless the last checkpoint holds it) and says where the run stopped. */
    private TrainingStoppedException stop() {
        Path file = null;
        if (store != null) {
            boolean saved = savedAt != null && savedAt[0] == epoch && savedAt[1] == stepInEpoch && savedAt[2] == globalStep;
            file = saved ? CheckpointStore.checkpointFile(store.dir(), globalStep) : save(progress());
            if (!saved) listener.onCheckpoint(file);
        }
        return new TrainingStoppedException(file, epoch + 1, stepInEpoch, epochSize(), globalStep);
    }

    /**
     * One training pass over the train split, as TF's {@code run_epoch}: state zeroed at the
     * start (or restored mid-epoch), perplexity = exp(Σ cost / Σ steps) where cost is a window's
     * summed batch-mean cross-entropy.
     */
    private double runTrainingEpoch(float lr) {
        Window w = trainWindow;
        BatchProducer producer = new BatchProducer(corpus.train(), w.globalBatch, w.steps);
        int epochSize = producer.epochSize();
        if (carriedState != null) w.setState(localRows(carriedState));
        else w.resetState();
        carriedState = null;
        long itersBefore = iterations; // the speed counts only this process's windows
        lastEpochWordsPerSecond = Double.NaN; // unknown when a resume lands at an epoch's last window
        long start = System.nanoTime();
        DropoutPlan dropouts = config.dropouts();
        float maxNorm = (float) config.maxGradNorm(), weightDecay = (float) config.weightDecay();
        double printedLr = config.learningRate(epoch, validHistory);
        int every = epochSize / 10;
        for (int step = stepInEpoch; step < epochSize; step++) {
            producer.window(step, w.firstRow, w.batch, w.inputs, w.targets); // this rank's rows (all of them in one process)
            double loss = engine.trainStep(w, dropouts, Dropout.splitSeed(seed, globalStep), lr, maxNorm, weightDecay, comm);
            boolean agreedStop = false;
            if (comm.size() > 1) { // the window's loss and whether any rank was asked to stop, in one reduction
                double[] agreed = {loss, stopRequested ? 1 : 0};
                comm.allreduceSum(agreed);
                loss = agreed[0];
                agreedStop = agreed[1] > 0;
            }
            globalStep++;
            if (!Double.isFinite(loss)) throw new TrainingDivergedException(loss, epoch + 1, step + 1, globalStep);
            costSum += loss / w.globalBatch;
            iterations += w.steps;
            stepInEpoch = step + 1;
            double seconds = (System.nanoTime() - start) / 1e9;
            double perplexity = Math.exp(costSum / iterations), wps = (iterations - itersBefore) * w.globalBatch / seconds;
            lastEpochWordsPerSecond = wps;
            var report = new TrainingListener.Step(epoch + 1, step + 1, epochSize, printedLr, perplexity, wps, elapsedSeconds());
            listener.onStep(report);
            if (every > 0 && step % every == 10) listener.onProgress(report);
            // one process: a stop asked for up to here (a listener's included); ranks: what they agreed on above
            boolean stopNow = comm.size() > 1 ? agreedStop : stopRequested;
            if ((store != null && checkpointEvery > 0 && globalStep % checkpointEvery == 0) || stopNow) {
                carriedState = gatherRows(w.state());
                if (store != null && checkpointEvery > 0 && globalStep % checkpointEvery == 0) {
                    listener.onCheckpoint(save(progress()));
                    phase = Phase.TRAINING;
                }
                if (stopNow) throw stop();
                carriedState = null;
            }
        }
        return Math.exp(costSum / iterations);
    }

    /**
     * What the listeners are told: the run's training time so far, or only this process's when a
     * checkpoint without {@code elapsed_s} was restored (a metrics file then adds what it has).
     */
    private double elapsedSeconds() {
        return (Double.isNaN(elapsedBefore) ? 0 : elapsedBefore) + thisProcessSeconds();
    }

    private double thisProcessSeconds() {
        return elapsedInEarlierRuns + (running ? (System.nanoTime() - runStart) / 1e9 : 0);
    }

    /**
     * Writes the final weights with the run's position and test perplexity to
     * {@code dir/model.safetensors}, in the checkpoint format ({@link Checkpoint#load} reads it).
     */
    public Path save(Path dir) {
        if (comm.rank() != 0) return dir.resolve(CheckpointStore.FINAL); // rank 0 writes it
        CheckpointStore target = store != null && store.dir().equals(dir) ? store : CheckpointStore.open(dir, 1);
        return target.saveFinal(config, corpus.vocabulary(), engine.model(), progress(), lastTestPerplexity);
    }

    @Override
    public void close() {
        engine.close();
    }
}
