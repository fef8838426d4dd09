package lstmlm.train;

import lstmlm.blas.Blas;
import lstmlm.data.BatchProducer;
import lstmlm.data.PtbCorpus;
import lstmlm.kernels.Dropout;
import lstmlm.model.LanguageModel;
import lstmlm.model.ModelShape;
import lstmlm.model.Passes;
import lstmlm.model.RowWorkers;
import lstmlm.model.Window;

import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * TensorFlow's {@code ptb_word_lm} main loop: for each epoch set the decayed learning rate, train
 * over the whole training split with state carried from window to window, then evaluate valid
 * (training batch and steps); at the end evaluate test with batch 1 and 1 step. Prints the same
 * lines as the tutorial so logs compare line by line.
 */
public final class Trainer implements AutoCloseable {
    private final Config config;
    private final PtbCorpus corpus;
    private final long seed;
    private final PrintStream out;
    private final LanguageModel model;
    private final RowWorkers workers;
    private final Window trainWindow;
    private final Window testWindow;
    private long globalStep;
    /** The run's position: the epoch in progress, windows of it done, TF's running sums, carried state. */
    private int epoch, stepInEpoch;
    private double costSum;
    private long iterations;
    private float[] carriedState;
    private final List<Double> trainHistory = new ArrayList<>(), validHistory = new ArrayList<>();
    private double lastTestPerplexity = Double.NaN;
    private CheckpointStore store;
    private int checkpointEvery;
    private TrainingListener listener = TrainingListener.NONE;
    /** When this process's {@link #run} began, for the listeners' elapsed time; and the last training pass's speed. */
    private long runStart;
    private double lastEpochWordsPerSecond;

    /** Perplexities of a finished run; valid and train have one entry per epoch. */
    public record Result(List<Double> trainPerplexity, List<Double> validPerplexity, double testPerplexity) {}

    public Trainer(Config config, PtbCorpus corpus, long seed, int threads, PrintStream out) {
        if (corpus.vocabulary().size() > config.vocabSize()) {
            throw new ConfigException("The data's vocabulary has " + corpus.vocabulary().size()
                    + " words but vocab_size is " + config.vocabSize()
                    + ". Use --set vocab_size=" + corpus.vocabulary().size() + " or a config that matches the data.");
        }
        if (threads < 1) throw new ConfigException("--threads must be at least 1, got " + threads);
        this.config = config;
        this.corpus = corpus;
        this.seed = seed;
        this.out = out;
        Blas.setThreads(threads);
        ModelShape shape = new ModelShape(config.vocabSize(), config.hiddenSize(), config.numLayers());
        this.model = new LanguageModel(shape);
        model.initialize(seed, (float) config.initScale());
        this.workers = new RowWorkers(threads);
        this.trainWindow = new Window(shape, config.batchSize(), config.numSteps(), config.keepProb() < 1, threads);
        this.testWindow = new Window(shape, 1, 1, false, threads);
    }

    public LanguageModel model() {
        return model;
    }

    /** The start-up lines: what runs where. */
    public void printBanner() {
        out.printf(Locale.ROOT, "OpenBLAS: core %s, %d threads (%s)%n", Blas.coreName(), Blas.threads(), Blas.config());
        out.printf(Locale.ROOT, "Vector species: %s%n", lstmlm.kernels.VectorShapes.F);
        out.printf(Locale.ROOT, "Config %s: %s%n", config.name(), config.toMap());
        out.printf(Locale.ROOT, "Parameters: %,d (%.1f MB); activations per window: %.1f MB%n",
                model.parameterCount(), model.parameterCount() * 4 / 1e6, trainWindow.bytes() / 1e6);
    }

    /**
     * Continues from a checkpoint: its weights, its position in the epoch loop (epoch, step,
     * running cost, carried state) and its global step, which with the seed fixes the dropout
     * masks. The checkpoint must come from this config, seed and data.
     */
    public void restore(Checkpoint c) {
        Checkpoint.Progress p = c.progress();
        if (p == null) {
            throw new ConfigException(c.file() + " holds weights only, no training position; resume from a ckpt-*.safetensors.");
        }
        if (!c.config().toMap().equals(config.toMap())) {
            throw new ConfigException("Checkpoint " + c.file() + " was written with config " + c.config().toMap()
                    + ", not " + config.toMap() + ".");
        }
        if (p.seed() != seed) {
            throw new ConfigException("Checkpoint " + c.file() + " was written with seed " + p.seed() + ", not " + seed + ".");
        }
        if (!c.vocabulary().words().equals(corpus.vocabulary().words())) {
            throw new ConfigException("Checkpoint " + c.file() + " has another vocabulary than the data's training "
                    + "file builds. Pass the --data-path the checkpoint was trained on.");
        }
        int epochSize = new BatchProducer(corpus.train(), config.batchSize(), config.numSteps()).epochSize();
        if (p.epochSize() != epochSize) {
            throw new ConfigException("Checkpoint " + c.file() + " was trained on " + p.epochSize()
                    + " windows per epoch; this data gives " + epochSize + ". Pass the --data-path it was trained on.");
        }
        MemorySegment.copy(c.model().params, 0, model.params, 0, model.params.byteSize());
        model.parametersChanged();
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
    }

    /**
     * Writes a checkpoint to {@code store} at every epoch end (then also {@code best.safetensors}
     * when the valid perplexity is the lowest so far) and, when {@code every > 0}, after every
     * {@code every}-th training window (by global step).
     */
    public void checkpointTo(CheckpointStore store, int every) {
        if (every < 0) throw new ConfigException("--checkpoint-every must be 0 (epoch ends only) or more, got " + every);
        this.store = store;
        this.checkpointEvery = every;
    }

    /** Tells {@code listener} about every window, TF progress line, epoch end and the test (replacing any earlier one). */
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
        int epochSize = new BatchProducer(corpus.train(), config.batchSize(), config.numSteps()).epochSize();
        float[] state = carriedState != null ? carriedState
                : new float[2 * config.numLayers() * config.batchSize() * config.hiddenSize()];
        return new Checkpoint.Progress(seed, epoch, stepInEpoch, epochSize, globalStep, config.learningRate(epoch),
                costSum, iterations, state, trainHistory, validHistory);
    }

    /**
     * Trains until {@code epochs} epochs are done in all (counting those before a restore; at
     * most max_max_epoch), then evaluates test.
     */
    public Result run(int epochs) {
        runStart = System.nanoTime();
        while (epoch < epochs) {
            double lr = config.learningRate(epoch);
            out.printf(Locale.ROOT, "Epoch: %d Learning rate: %.3f%n", epoch + 1, lr);
            double train = runTrainingEpoch((float) lr);
            out.printf(Locale.ROOT, "Epoch: %d Train Perplexity: %.3f%n", epoch + 1, train);
            double valid = perplexity(model, trainWindow, corpus.valid(), workers);
            out.printf(Locale.ROOT, "Epoch: %d Valid Perplexity: %.3f%n", epoch + 1, valid);
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
                Path file = store.save(config, corpus.vocabulary(), model, p);
                out.println("Saved checkpoint " + file);
                if (valid <= validHistory.stream().mapToDouble(Double::doubleValue).min().orElseThrow()) {
                    store.saveBest(config, corpus.vocabulary(), model, p, valid);
                }
            }
        }
        double test = perplexity(model, testWindow, corpus.test(), workers);
        out.printf(Locale.ROOT, "Test Perplexity: %.3f%n", test);
        lastTestPerplexity = test;
        listener.onTest(new TrainingListener.TestEnd(epoch, test, elapsedSeconds()));
        return new Result(List.copyOf(trainHistory), List.copyOf(validHistory), test);
    }

    /**
     * One training pass over the train split, as TF's {@code run_epoch}: state zeroed at the
     * start (or restored mid-epoch), perplexity = exp(Σ cost / Σ steps) where cost is a window's
     * summed batch-mean cross-entropy.
     */
    private double runTrainingEpoch(float lr) {
        Window w = trainWindow;
        BatchProducer producer = new BatchProducer(corpus.train(), w.batch, w.steps);
        int epochSize = producer.epochSize();
        if (carriedState != null) w.setState(carriedState);
        else w.resetState();
        carriedState = null;
        lstmlm.model.StepProfile.reset();
        long itersBefore = iterations; // the speed counts only this process's windows
        lastEpochWordsPerSecond = Double.NaN; // unknown when a resume lands at an epoch's last window
        long start = System.nanoTime();
        float keep = (float) config.keepProb(), maxNorm = (float) config.maxGradNorm();
        double printedLr = config.learningRate(epoch);
        int every = epochSize / 10;
        for (int step = stepInEpoch; step < epochSize; step++) {
            producer.window(step, w.inputs, w.targets);
            double loss = Passes.trainWindow(model, w, keep, Dropout.splitSeed(seed, globalStep), workers);
            model.clipAndUpdate(lr, maxNorm, workers);
            globalStep++;
            checkFinite(loss, step);
            costSum += loss / w.batch;
            iterations += w.steps;
            stepInEpoch = step + 1;
            double seconds = (System.nanoTime() - start) / 1e9;
            double perplexity = Math.exp(costSum / iterations), wps = (iterations - itersBefore) * w.batch / seconds;
            lastEpochWordsPerSecond = wps;
            var report = new TrainingListener.Step(epoch + 1, step + 1, epochSize, printedLr, perplexity, wps, elapsedSeconds());
            listener.onStep(report);
            if (every > 0 && step % every == 10) {
                out.printf(Locale.ROOT, "%.3f perplexity: %.3f speed: %.0f wps%n", step * 1.0 / epochSize, perplexity, wps);
                listener.onProgress(report);
                if (lstmlm.model.StepProfile.ENABLED) printProfile(step + 1 - (int) (itersBefore / w.steps));
            }
            if (store != null && checkpointEvery > 0 && globalStep % checkpointEvery == 0) {
                carriedState = w.state();
                Path file = store.save(config, corpus.vocabulary(), model, progress());
                carriedState = null;
                out.println("Saved checkpoint " + file);
            }
        }
        return Math.exp(costSum / iterations);
    }

    /**
     * Perplexity of a model over a split, as TF's {@code run_epoch} without training: state zeroed
     * at the start and carried from window to window, exp(Σ cost / Σ steps). Used by training's
     * valid and test evaluation and by {@code lstm eval}, so both print the same number.
     */
    public static double perplexity(LanguageModel model, Window w, int[] ids, RowWorkers workers) {
        BatchProducer producer = new BatchProducer(ids, w.batch, w.steps);
        int epochSize = producer.epochSize();
        w.resetState();
        double costs = 0;
        long iters = 0;
        for (int step = 0; step < epochSize; step++) {
            producer.window(step, w.inputs, w.targets);
            double loss = Passes.evalWindow(model, w, workers);
            checkFinite(loss, step);
            costs += loss / w.batch;
            iters += w.steps;
        }
        return Math.exp(costs / iters);
    }

    private double elapsedSeconds() {
        return (System.nanoTime() - runStart) / 1e9;
    }

    private static void checkFinite(double loss, int step) {
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("The loss became " + loss + " at step " + step
                    + ": training diverged. Lower learning_rate or max_grad_norm.");
        }
    }

    /**
     * Writes the final weights with the run's position and test perplexity to
     * {@code dir/model.safetensors}, in the checkpoint format ({@link Checkpoint#load} reads it).
     */
    public Path save(Path dir) {
        CheckpointStore target = store != null && store.dir().equals(dir) ? store : CheckpointStore.open(dir, 1);
        return target.saveFinal(config, corpus.vocabulary(), model, progress(), lastTestPerplexity);
    }

    private void printProfile(int windows) {
        StringBuilder sb = new StringBuilder("  profile ms/window:");
        for (var part : lstmlm.model.StepProfile.Part.values()) {
            sb.append(String.format(Locale.ROOT, " %s=%.2f", part.name().toLowerCase(Locale.ROOT),
                    lstmlm.model.StepProfile.nanos(part) / 1e6 / windows));
        }
        out.println(sb);
    }

    @Override
    public void close() {
        workers.close();
        trainWindow.close();
        testWindow.close();
        model.close();
    }
}
