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

    /** Trains for {@code epochs} epochs (at most max_max_epoch), then evaluates test. */
    public Result run(int epochs) {
        List<Double> trainPpl = new ArrayList<>(), validPpl = new ArrayList<>();
        for (int epoch = 0; epoch < epochs; epoch++) {
            double lr = config.learningRate(epoch);
            out.printf(Locale.ROOT, "Epoch: %d Learning rate: %.3f%n", epoch + 1, lr);
            double train = runEpoch(corpus.train(), trainWindow, (float) lr, true);
            out.printf(Locale.ROOT, "Epoch: %d Train Perplexity: %.3f%n", epoch + 1, train);
            double valid = runEpoch(corpus.valid(), trainWindow, 0f, false);
            out.printf(Locale.ROOT, "Epoch: %d Valid Perplexity: %.3f%n", epoch + 1, valid);
            trainPpl.add(train);
            validPpl.add(valid);
        }
        double test = runEpoch(corpus.test(), testWindow, 0f, false);
        out.printf(Locale.ROOT, "Test Perplexity: %.3f%n", test);
        return new Result(trainPpl, validPpl, test);
    }

    /**
     * One pass over a split, as TF's {@code run_epoch}: state zeroed at the start, perplexity =
     * exp(Σ cost / Σ steps) where cost is a window's summed batch-mean cross-entropy.
     */
    double runEpoch(int[] ids, Window w, float lr, boolean train) {
        BatchProducer producer = new BatchProducer(ids, w.batch, w.steps);
        int epochSize = producer.epochSize();
        w.resetState();
        lstmlm.model.StepProfile.reset();
        double costs = 0;
        long iters = 0;
        long start = System.nanoTime();
        float keep = (float) config.keepProb(), maxNorm = (float) config.maxGradNorm();
        int every = epochSize / 10;
        for (int step = 0; step < epochSize; step++) {
            producer.window(step, w.inputs, w.targets);
            double loss;
            if (train) {
                loss = Passes.trainWindow(model, w, keep, Dropout.splitSeed(seed, globalStep), workers);
                model.clipAndUpdate(lr, maxNorm, workers);
                globalStep++;
            } else {
                loss = Passes.evalWindow(model, w, workers);
            }
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("The loss became " + loss + " at step " + step
                        + ": training diverged. Lower learning_rate or max_grad_norm.");
            }
            costs += loss / w.batch;
            iters += w.steps;
            if (train && every > 0 && step % every == 10) {
                double seconds = (System.nanoTime() - start) / 1e9;
                out.printf(Locale.ROOT, "%.3f perplexity: %.3f speed: %.0f wps%n",
                        step * 1.0 / epochSize, Math.exp(costs / iters), iters * w.batch / seconds);
                if (lstmlm.model.StepProfile.ENABLED) printProfile(step + 1);
            }
        }
        return Math.exp(costs / iters);
    }

    /**
     * Writes the weights to {@code dir/model.safetensors}, with the config and the vocabulary (one
     * word per line, in id order) in the metadata.
     */
    public java.nio.file.Path save(java.nio.file.Path dir) {
        java.nio.file.Path file = dir.resolve("model.safetensors");
        var meta = new java.util.LinkedHashMap<String, String>();
        meta.put("format", "lstm-lm weights v1");
        config.toMap().forEach((k, v) -> meta.put("config." + k, v));
        meta.put("vocabulary", String.join("\n", corpus.vocabulary().words()));
        try {
            lstmlm.model.SafetensorsWriter.write(file, model.layout, model.params, meta);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Could not write " + file + ": " + e.getMessage()
                    + ". Check that the folder is writable and the disk has room; nothing was overwritten.", e);
        }
        return file;
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
