package lstmlm.train;

import lstmlm.data.BatchProducer;
import lstmlm.data.Corpus;
import lstmlm.kernels.Dropout;
import lstmlm.model.Dropouts;
import lstmlm.model.Engine;
import lstmlm.model.LanguageModel;
import lstmlm.model.Window;

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

    /**
     * A new run of {@code config} on {@code corpus}: the model initialised from {@code seed}, on
     * {@code threads} threads. vocab_size is taken from the corpus's vocabulary when they differ.
     */
    public Trainer(Config config, Corpus corpus, long seed, int threads) {
        if (corpus.vocabulary().size() != config.vocabSize()) {
            // the model has one output class per word of the data's vocabulary
            config = config.withVocabSize(corpus.vocabulary().size());
        }
        if (threads < 1) throw new ConfigException("--threads must be at least 1, got " + threads);
        this.config = config;
        this.corpus = corpus;
        this.seed = seed;
        this.engine = new Engine(config.shape(), threads, config.precision());
        engine.model().initialize(seed, (float) config.initScale());
        this.trainWindow = engine.newWindow(config.batchSize(), config.numSteps(), config.dropouts());
        this.testWindow = engine.newWindow(1, 1, false);
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
    }

    private int epochSize() {
        return new BatchProducer(corpus.train(), config.batchSize(), config.numSteps()).epochSize();
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
        return new Checkpoint.Progress(seed, epoch, stepInEpoch, epochSize(), globalStep, config.learningRate(epoch),
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
            listener.onEpochStart(new TrainingListener.EpochStart(epoch + 1, lr));
            double train = runTrainingEpoch((float) lr);
            listener.onTrainingPass(new TrainingListener.TrainingPass(epoch + 1, lr, train));
            double valid = engine.perplexity(trainWindow, corpus.valid());
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
                listener.onCheckpoint(store.save(config, corpus.vocabulary(), engine.model(), p));
                if (valid <= validHistory.stream().mapToDouble(Double::doubleValue).min().orElseThrow()) {
                    store.saveBest(config, corpus.vocabulary(), engine.model(), p, valid);
                }
            }
        }
        double test = engine.perplexity(testWindow, corpus.test());
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
        long itersBefore = iterations; // the speed counts only this process's windows
        lastEpochWordsPerSecond = Double.NaN; // unknown when a resume lands at an epoch's last window
        long start = System.nanoTime();
        Dropouts dropouts = config.dropouts();
        float maxNorm = (float) config.maxGradNorm(), weightDecay = (float) config.weightDecay();
        double printedLr = config.learningRate(epoch);
        int every = epochSize / 10;
        for (int step = stepInEpoch; step < epochSize; step++) {
            producer.window(step, w.inputs, w.targets);
            double loss = engine.trainWindow(w, dropouts, Dropout.splitSeed(seed, globalStep));
            engine.update(lr, maxNorm, weightDecay);
            globalStep++;
            Engine.checkFinite(loss, step);
            costSum += loss / w.batch;
            iterations += w.steps;
            stepInEpoch = step + 1;
            double seconds = (System.nanoTime() - start) / 1e9;
            double perplexity = Math.exp(costSum / iterations), wps = (iterations - itersBefore) * w.batch / seconds;
            lastEpochWordsPerSecond = wps;
            var report = new TrainingListener.Step(epoch + 1, step + 1, epochSize, printedLr, perplexity, wps, elapsedSeconds());
            listener.onStep(report);
            if (every > 0 && step % every == 10) listener.onProgress(report);
            if (store != null && checkpointEvery > 0 && globalStep % checkpointEvery == 0) {
                carriedState = w.state();
                listener.onCheckpoint(store.save(config, corpus.vocabulary(), engine.model(), progress()));
                carriedState = null;
            }
        }
        return Math.exp(costSum / iterations);
    }

    private double elapsedSeconds() {
        return (System.nanoTime() - runStart) / 1e9;
    }

    /**
     * Writes the final weights with the run's position and test perplexity to
     * {@code dir/model.safetensors}, in the checkpoint format ({@link Checkpoint#load} reads it).
     */
    public Path save(Path dir) {
        CheckpointStore target = store != null && store.dir().equals(dir) ? store : CheckpointStore.open(dir, 1);
        return target.saveFinal(config, corpus.vocabulary(), engine.model(), progress(), lastTestPerplexity);
    }

    @Override
    public void close() {
        engine.close();
    }
}
