package lstmlm.train;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.FileCheck;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.ParameterLayout;
import lstmlm.modelfile.SafetensorsFile;
import lstmlm.modelfile.SafetensorsWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * One model file: the weights as safetensors tensors with {@link ParameterLayout}'s names, and in
 * the {@code __metadata__} everything needed to use it (config, vocabulary) and, for a training
 * checkpoint, to continue bit for bit (see {@link Progress}). The same file type serves training
 * checkpoints, {@code best.safetensors} and the final {@code model.safetensors}: one format, one
 * loader.
 *
 * <p>Metadata keys (all values strings, as safetensors requires):
 * <pre>
 * header.sha256           SHA-256 (hex) of the length field and header, this value read as 64 '0's
 * format                  "lstm-lm checkpoint 2" (1: written before header.sha256; still read)
 * config.name, config.KEY every config key ({@link Config#KEYS}), as Config.toMap() writes it
 * vocabulary              the words in id order, one per line ("\n"-joined)
 * vocabulary.size         number of words
 * tensors.sha256          SHA-256 (hex) of every byte after the header: all tensors' data
 *                         (the writer adds both checksums: {@link lstmlm.modelfile.SafetensorsWriter})
 * -- training position (absent in a weights-only file; then all are absent) --
 * seed                    the run's seed
 * epoch                   0-based epoch in progress (at an epoch end: the next one)
 * step                    training windows of that epoch already done (0 .. epoch_size)
 * epoch_size              windows per training epoch (checks that resumed data matches)
 * global_step             training windows done in the whole run
 * learning_rate           learning rate of that epoch (derived from the config; checked)
 * epoch.cost_sum          TF run_epoch's running Σ cost of the epoch so far (exact double)
 * epoch.iterations        TF run_epoch's running Σ num_steps of the epoch so far
 * rng                     how every random stream is derived (from seed and global_step)
 * state.tensor            "state.lstm": the carried LSTM state at the save point is a tensor
 * state.layout            its layout, [layers, 2 (c, h), batch, hidden]
 * history.train_perplexity, history.valid_perplexity   finished epochs, comma-separated
 * elapsed_s               the run's training time when the file was written, in seconds, over
 *                         all its processes (what one did past its last checkpoint is not in it:
 *                         a resume redoes it); absent in files written before it was kept: unknown
 * </pre>
 * The state tensor is not part of the model: {@link #load} keeps it in {@link Progress} only.
 */
public record Checkpoint(Path file, Config config, Vocabulary vocabulary, ModelFile weights,
                         Progress progress, Map<String, String> metadata) implements AutoCloseable {

    public static final String FORMAT = ModelFile.FORMAT;
    public static final String STATE_TENSOR = ModelFile.STATE_PREFIX + "lstm";
    public static final String CHECKSUM_KEY = ModelFile.CHECKSUM_KEY;
    private static final List<String> PROGRESS_KEYS = List.of("seed", "epoch", "step", "epoch_size", "global_step",
            "learning_rate", "epoch.cost_sum", "epoch.iterations", "history.train_perplexity",
            "history.valid_perplexity");

    /**
     * Where a training run stands, enough to continue exactly: the dropout masks of training
     * window n come from {@code Dropout.splitSeed(seed, n)} and initialisation drew from
     * {@code SplittableRandom(seed)} once, so seed and global step are every RNG state there is.
     *
     * @param lstmState      the carried state, c then h per layer, each [batch x hidden] (Window.state())
     * @param elapsedSeconds the run's training time up to here (all its processes); NaN when unknown
     */
    public record Progress(long seed, int epoch, int step, int epochSize, long globalStep, double learningRate,
                           double costSum, long iterations, float[] lstmState,
                           List<Double> trainPerplexities, List<Double> validPerplexities, double elapsedSeconds) {
        public Progress {
            trainPerplexities = List.copyOf(trainPerplexities);
            validPerplexities = List.copyOf(validPerplexities);
        }

        /**
         * Whether a line a run wrote at 0-based epoch {@code epoch} after {@code step} of its windows
         * comes at or before this position (so a run resumed here would not write it again).
         */
        public boolean reached(int epoch, int step) {
            return epoch < this.epoch || (epoch == this.epoch && step <= this.step);
        }
    }

    /** Copies the weights into {@code model} (which must have this checkpoint's shape). */
    public void copyWeightsInto(LanguageModel model) {
        model.load(weights);
    }

    /**
     * Checks that a run of {@code config} with {@code seed} on data whose training split has
     * {@code vocabulary} and {@code epochSize} windows per epoch can continue from this checkpoint:
     * anything else would not be the same run. The message says what differs and what to pass.
     * Only {@link Config#STOP_KEY} may differ: a run may be extended (or ended earlier) from any checkpoint.
     */
    public void checkResumable(Config config, long seed, Vocabulary vocabulary, int epochSize) {
        if (progress == null) {
            throw new ConfigException(file + " holds weights only, no training position; resume from a ckpt-*.safetensors.");
        }
        if (!this.config.trainingMap().equals(config.trainingMap())) {
            throw new ConfigException("Checkpoint " + file + " was written with config " + this.config.toMap()
                    + ", not " + config.toMap() + ".");
        }
        if (progress.seed() != seed) {
            throw new ConfigException("Checkpoint " + file + " was written with seed " + progress.seed() + ", not " + seed + ".");
        }
        if (!this.vocabulary.words().equals(vocabulary.words())) {
            throw new ConfigException("Checkpoint " + file + " has another vocabulary than the data's training "
                    + "file builds. Pass the --data-path the checkpoint was trained on.");
        }
        if (progress.epochSize() != epochSize) {
            throw new ConfigException("Checkpoint " + file + " was trained on " + progress.epochSize()
                    + " windows per epoch; this data gives " + epochSize + ". Pass the --data-path it was trained on.");
        }
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        weights.close();
    }

    /**
     * Writes a checkpoint atomically (temp file, fsync, rename, fsync of the folder).
     *
     * @param progress null for a weights-only file
     * @param extra    more metadata, e.g. a perplexity (must not reuse the keys above)
     */
    public static void write(Path file, Config config, Vocabulary vocabulary, LanguageModel model,
                             Progress progress, Map<String, String> extra) throws IOException {
        write(file, config, vocabulary, model.layout, model.params, List.of(), progress, extra);
    }

    /**
     * Writes a weights-only model file from a parameter slab in {@code layout} order (an import's), with
     * {@code source.*} tensors beside the model's ({@link ModelFile#SOURCE_PREFIX}).
     */
    public static void writeWeights(Path file, Config config, Vocabulary vocabulary, ParameterLayout layout,
                                    MemorySegment params, List<SafetensorsWriter.Entry> sourceTensors,
                                    Map<String, String> extra) throws IOException {
        for (SafetensorsWriter.Entry e : sourceTensors) {
            if (!e.name().startsWith(ModelFile.SOURCE_PREFIX)) throw new IllegalArgumentException(e.name() + " lacks the prefix " + ModelFile.SOURCE_PREFIX);
        }
        if (!config.shape().equals(layout.shape)) throw new IllegalArgumentException("config " + config.shape() + " vs layout " + layout.shape);
        write(file, config, vocabulary, layout, params, sourceTensors, null, extra);
    }

    private static void write(Path file, Config config, Vocabulary vocabulary, ParameterLayout layout, MemorySegment params,
                              List<SafetensorsWriter.Entry> more, Progress progress, Map<String, String> extra) throws IOException {
        List<SafetensorsWriter.Entry> tensors = new ArrayList<>(SafetensorsWriter.entries(layout, params));
        tensors.addAll(more);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("config.name", config.name());
        config.toMap().forEach((k, v) -> meta.put("config." + k, v));
        meta.put("vocabulary", String.join("\n", vocabulary.words()));
        meta.put("vocabulary.size", Integer.toString(vocabulary.size()));
        if (config.tieWeights()) {
            meta.put("softmax.weight", "tied: the output projection is the transpose of 'embedding', stored once");
        }
        if (progress != null) {
            long[] stateShape = stateShape(config);
            if (progress.lstmState().length != stateShape[0] * stateShape[1] * stateShape[2] * stateShape[3]) {
                throw new IllegalArgumentException("LSTM state has " + progress.lstmState().length
                        + " floats, the config needs " + Arrays.toString(stateShape));
            }
            meta.put("seed", Long.toString(progress.seed()));
            meta.put("epoch", Integer.toString(progress.epoch()));
            meta.put("step", Integer.toString(progress.step()));
            meta.put("epoch_size", Integer.toString(progress.epochSize()));
            meta.put("global_step", Long.toString(progress.globalStep()));
            meta.put("learning_rate", Double.toString(progress.learningRate()));
            meta.put("epoch.cost_sum", Double.toString(progress.costSum()));
            meta.put("epoch.iterations", Long.toString(progress.iterations()));
            meta.put("rng", "dropout masks of training window n (0-based, n = global_step next) come from "
                    + "Dropout.splitSeed(seed, n); initialisation drew from SplittableRandom(seed) once and has no "
                    + "further state");
            meta.put("state.tensor", STATE_TENSOR);
            meta.put("state.layout", "[layers, 2 (c, h), batch, hidden]: the carried LSTM state at the save point; "
                    + "zero at an epoch start; not part of the model");
            meta.put("history.train_perplexity", joinDoubles(progress.trainPerplexities()));
            meta.put("history.valid_perplexity", joinDoubles(progress.validPerplexities()));
            if (Double.isFinite(progress.elapsedSeconds())) meta.put("elapsed_s", Double.toString(progress.elapsedSeconds()));
            tensors.add(SafetensorsWriter.Entry.ofFloats(STATE_TENSOR, stateShape, progress.lstmState()));
        }
        for (var e : extra.entrySet()) {
            if (meta.containsKey(e.getKey())) throw new IllegalArgumentException("metadata key " + e.getKey() + " is taken");
            meta.put(e.getKey(), e.getValue());
        }
        SafetensorsWriter.write(file, tensors, meta);
    }

    /**
     * Loads and checks a model file: what {@link ModelFile#open} checks (structure, format, data
     * checksum, shape, vocabulary, every tensor), then the whole config and the training position
     * when there is one. The weights stay mapped until {@link #close}. Any problem is a
     * {@link ModelFileException} naming the file and the problem.
     */
    public static Checkpoint load(Path file) {
        ModelFile weights = ModelFile.open(file);
        try {
            Map<String, String> meta = weights.metadata();
            Config config = config(file, meta);
            if (!config.shape().equals(weights.shape())) {
                throw bad(file, "its config " + config.toMap() + " does not give the shape " + weights.shape());
            }
            Progress progress = progress(file, weights.safetensors(), meta, config);
            return new Checkpoint(file, config, weights.vocabulary(), weights, progress, meta);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** [layers, 2, batch, hidden], the shape of the state tensor. */
    static long[] stateShape(Config c) {
        return new long[]{c.numLayers(), 2, c.batchSize(), c.hiddenSize()};
    }

    private static Config config(Path file, Map<String, String> meta) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String k : Config.KEYS) {
            String v = meta.get("config." + k);
            if (v != null) values.put(k, v);
        }
        try {
            return Config.fromMap(meta.getOrDefault("config.name", "checkpoint"), values, "the metadata of " + file);
        } catch (ConfigException e) {
            throw bad(file, "its config is unusable: " + e.getMessage());
        }
    }

    private static Progress progress(Path file, SafetensorsFile f, Map<String, String> meta, Config config) {
        boolean any = f.tensors().containsKey(STATE_TENSOR) || PROGRESS_KEYS.stream().anyMatch(meta::containsKey);
        if (!any) return null; // a weights-only file
        FileCheck check = FileCheck.checkpoint(file);
        if (!f.tensors().containsKey(STATE_TENSOR)) throw bad(file, "it has a training position but no tensor '" + STATE_TENSOR + "'");
        check.checkShape(f, STATE_TENSOR, stateShape(config));
        long seed = check.longValue(meta, "seed", Long.MIN_VALUE);
        int epoch = check.intValue(meta, "epoch", 0);
        int epochSize = check.intValue(meta, "epoch_size", 1);
        int step = check.intValue(meta, "step", 0);
        long globalStep = check.longValue(meta, "global_step", 0);
        long iterations = check.longValue(meta, "epoch.iterations", 0);
        double learningRate = check.finiteDouble(meta, "learning_rate");
        double costSum = check.finiteDouble(meta, "epoch.cost_sum");
        if (step > epochSize) throw bad(file, "step " + step + " is beyond epoch_size " + epochSize);
        if (iterations != (long) step * config.numSteps()) {
            throw bad(file, "epoch.iterations is " + iterations + " but step " + step + " of num_steps "
                    + config.numSteps() + " makes " + (long) step * config.numSteps());
        }
        List<Double> train = check.doubles(meta, "history.train_perplexity");
        List<Double> valid = check.doubles(meta, "history.valid_perplexity");
        if (valid.size() < epoch) {
            throw bad(file, "its history has " + valid.size() + " validation perplexities for " + epoch + " finished epochs");
        }
        if (learningRate != config.learningRate(epoch, valid)) {
            throw bad(file, "learning_rate " + learningRate + " is not the config's rate for epoch " + (epoch + 1)
                    + " (" + config.learningRate(epoch, valid) + ")");
        }
        double elapsed = meta.containsKey("elapsed_s") ? check.finiteDouble(meta, "elapsed_s") : Double.NaN;
        if (elapsed < 0) throw bad(file, "metadata 'elapsed_s' is negative: " + elapsed);
        float[] state = f.data(STATE_TENSOR).toArray(JAVA_FLOAT_UNALIGNED);
        return new Progress(seed, epoch, step, epochSize, globalStep, learningRate, costSum, iterations, state,
                train, valid, elapsed);
    }

    private static String joinDoubles(List<Double> values) {
        StringBuilder sb = new StringBuilder();
        for (double v : values) {
            if (!sb.isEmpty()) sb.append(',');
            sb.append(v); // Double.toString round-trips exactly
        }
        return sb.toString();
    }

    private static ModelFileException bad(Path file, String what) {
        return FileCheck.checkpoint(file).bad(what);
    }
}
