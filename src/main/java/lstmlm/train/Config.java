package lstmlm.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import lstmlm.model.DropoutPlan;
import lstmlm.model.Precision;
import lstmlm.modelfile.AdaptiveSoftmax;
import lstmlm.modelfile.ModelShape;

/**
 * A training configuration with TensorFlow's key names, and keys for what came after (mixed
 * precision, the vocabulary's limits, tied embeddings, variational dropout, weight decay). Loaded
 * from a {@code .properties} file or a bundled name ({@code small}, {@code medium}, {@code large},
 * {@code test}, {@code medium-vd-tied}, {@code large-vd-tied}); every TensorFlow key must be present,
 * every key known and in range.
 *
 * <p>Dropout: {@code keep_prob} is TensorFlow's, on the embedding output and every layer's output.
 * {@code keep_prob_input}, {@code keep_prob_hidden} (between layers) and {@code keep_prob_output}
 * (the last layer's, before the softmax) override it where they are given; {@code
 * keep_prob_recurrent} drops units of h<sub>t−1</sub> where it enters the recurrent product and
 * {@code keep_prob_words} whole words of the embedding (both 1: off). With {@code
 * variational_dropout=true} every mask is drawn once per sequence of a window and reused at each of
 * its steps (Gal &amp; Ghahramani 2016); otherwise each element of each step has its own.
 *
 * <p>Output layer: {@code softmax=full} (the default) or {@code adaptive} with {@code adaptive_cutoffs}
 * (c₀,c₁,…: the head's words end at c₀, tail cluster i holds [cᵢ, cᵢ₊₁)) and {@code adaptive_div} (each
 * cluster's projection that many times narrower, default 4): {@link AdaptiveSoftmax}; {@code keep_prob_tail}
 * drops each tail cluster's projected units in training (1: off; fairseq's adaptive_softmax_dropout is 1 − it).
 */
public record Config(
        String name,
        double initScale,
        double learningRate,
        double maxGradNorm,
        int numLayers,
        int numSteps,
        int hiddenSize,
        int maxEpoch,
        int maxMaxEpoch,
        double keepProb,
        double lrDecay,
        int batchSize,
        int vocabSize,
        Precision precision,
        int vocabMaxSize,
        int vocabMinCount,
        boolean tieWeights,
        boolean variationalDropout,
        double keepProbInput,
        double keepProbHidden,
        double keepProbOutput,
        double keepProbRecurrent,
        double keepProbWords,
        double keepProbTail,
        double weightDecay,
        LrSchedule lrSchedule,
        AdaptiveSoftmax adaptive) {

    public static final List<String> BUNDLED = List.of("small", "medium", "large", "test", "medium-vd-tied", "large-vd-tied",
            "brown-vd-adaptive");
    /** TensorFlow's keys: every config has each of them. */
    public static final List<String> REQUIRED_KEYS = List.of("init_scale", "learning_rate", "max_grad_norm",
            "num_layers", "num_steps", "hidden_size", "max_epoch", "max_max_epoch", "keep_prob",
            "lr_decay", "batch_size", "vocab_size");
    /**
     * Keys beyond TensorFlow's, with the defaults that keep its configs exactly as they were; a
     * config or checkpoint written before a key existed reads as its default.
     */
    public static final Map<String, String> OPTIONAL_KEYS = optionalKeys();
    /** Every key, required ones first. */
    public static final List<String> KEYS = allKeys();
    /**
     * The one key a resumed run may change: it says where the run stops, and no schedule reads it
     * (the learning rate is a function of the epoch and the validation history; ConfigTest checks
     * it), so a run extended from any checkpoint gives the bits of one configured so from the start.
     */
    public static final String STOP_KEY = "max_max_epoch";

    /** This config's keys and values without {@link #STOP_KEY}: what a resume must keep. */
    public Map<String, String> trainingMap() {
        Map<String, String> m = toMap();
        m.remove(STOP_KEY);
        return m;
    }

    /** Default of the keep_prob_input/hidden/output keys: keep_prob's value. */
    private static final String INHERIT = "keep_prob";

    private static Map<String, String> optionalKeys() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("precision", Precision.FP32.key());
        m.put("vocab_max_size", "0");
        m.put("vocab_min_count", "1");
        m.put("tie_weights", "false");
        m.put("variational_dropout", "false");
        m.put("keep_prob_input", INHERIT);
        m.put("keep_prob_hidden", INHERIT);
        m.put("keep_prob_output", INHERIT);
        m.put("keep_prob_recurrent", "1.0");
        m.put("keep_prob_words", "1.0");
        m.put("keep_prob_tail", "1.0");
        m.put("weight_decay", "0.0");
        m.put("lr_schedule", LrSchedule.EPOCH.key);
        m.put("softmax", "full");
        m.put("adaptive_cutoffs", "");
        m.put("adaptive_div", "4");
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Where training drops units, and how. */
    public DropoutPlan dropouts() {
        return new DropoutPlan((float) keepProbInput, (float) keepProbHidden, (float) keepProbOutput,
                (float) keepProbRecurrent, (float) keepProbWords, (float) keepProbTail, variationalDropout);
    }

    /** The model's shape: vocab_size × hidden_size × num_layers, tied or not. */
    public ModelShape shape() {
        try {
            return new ModelShape(vocabSize, hiddenSize, numLayers, tieWeights, adaptive);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("Config " + name + " does not fit its vocabulary of " + vocabSize + " words: " + e.getMessage() + ".");
        }
    }

    /** The vocabulary limits the config asks for. */
    public lstmlm.data.VocabularyLimits vocabularyLimits() {
        return new lstmlm.data.VocabularyLimits(vocabMaxSize, vocabMinCount);
    }

    /** This config with vocab_size replaced, e.g. by the size of the vocabulary the data gave. */
    public Config withVocabSize(int size) {
        return withOverrides(Map.of("vocab_size", Integer.toString(size)));
    }

    private static List<String> allKeys() {
        List<String> keys = new java.util.ArrayList<>(REQUIRED_KEYS);
        keys.addAll(OPTIONAL_KEYS.keySet());
        return List.copyOf(keys);
    }

    /**
     * When the learning rate falls by lr_decay. {@code epoch}: TensorFlow's tutorial as it has been
     * since 2016, the initial rate for max_epoch epochs, then once per epoch. {@code epoch-held}:
     * the initial rate for max_epoch + 1 epochs, then once per epoch: the code that published the
     * reference numbers, Zaremba et al.'s Lua (it divides after an epoch whose count exceeds
     * max_epoch) and TensorFlow's first tutorial versions, 2015–16 ({@code lr_decay ** max(i -
     * max_epoch, 0)}; its table of 115.91, 82.07 and 78.29 dates from then). {@code plateau}:
     * after each epoch, from epoch max_epoch on, whose validation perplexity is no lower than the
     * best before it (PyTorch's word_language_model and the 2016–17 papers' practice): the rate
     * stays high while the model still improves, which heavily regularised models (variational
     * dropout) need.
     */
    public enum LrSchedule {
        EPOCH("epoch", 0), EPOCH_HELD("epoch-held", 1), PLATEAU("plateau", -1);

        public final String key;
        /** Epochs past max_epoch the initial rate holds, for the two fixed schedules; -1: plateau. */
        private final int held;

        LrSchedule(String key, int held) {
            this.key = key;
            this.held = held;
        }

        static LrSchedule parse(String raw) {
            for (LrSchedule s : values()) if (s.key.equalsIgnoreCase(raw.trim())) return s;
            throw new IllegalArgumentException("'" + raw + "' is not " + choices());
        }

        /** "a, b or c": the keys, for the error a bad value gets. */
        static String choices() {
            List<String> keys = Arrays.stream(values()).map(s -> s.key).toList();
            return String.join(", ", keys.subList(0, keys.size() - 1)) + " or " + keys.getLast();
        }
    }

    /**
     * Learning rate for 0-based epoch i under a fixed schedule ({@code epoch}, {@code epoch-held});
     * a {@code plateau} config needs the validation history: {@link #learningRate(int, List)}.
     */
    public double learningRate(int epoch) {
        if (lrSchedule == LrSchedule.PLATEAU) {
            throw new IllegalStateException("lr_schedule " + lrSchedule.key + " needs the validation history");
        }
        return learningRate(epoch, List.of());
    }

    /**
     * Learning rate for 0-based epoch i, given the validation perplexities of the epochs before it
     * ({@code valid.get(j)} for epoch j; at least i of them for {@code plateau}). {@code epoch}:
     * learning_rate · lr_decay^max(i + 1 − max_epoch, 0); {@code epoch-held}: one epoch later,
     * lr_decay^max(i − max_epoch, 0). {@code plateau}: learning_rate · lr_decay^k, k the number of
     * epochs j &lt; i with j + 1 ≥ max_epoch whose valid[j] is not below min(valid[0..j)). A pure
     * function of the history a checkpoint carries, so a resume continues the same schedule.
     */
    public double learningRate(int epoch, List<Double> valid) {
        return switch (lrSchedule) {
            case EPOCH, EPOCH_HELD ->
                    learningRate * Math.pow(lrDecay, Math.max(epoch + 1 - maxEpoch - lrSchedule.held, 0));
            case PLATEAU -> plateauRate(epoch, valid);
        };
    }

    private double plateauRate(int epoch, List<Double> valid) {
        if (valid.size() < epoch) {
            throw new IllegalArgumentException("lr_schedule plateau at epoch " + (epoch + 1) + " needs " + epoch
                    + " validation perplexities, got " + valid.size());
        }
        int decays = 0;
        double best = Double.POSITIVE_INFINITY;
        for (int j = 0; j < epoch; j++) {
            double v = valid.get(j);
            if (j + 1 >= maxEpoch && !(v < best)) decays++;
            if (v < best) best = v;
        }
        return learningRate * Math.pow(lrDecay, decays);
    }

    /** A bundled name or a path to a properties file, then the overrides, in order. */
    public static Config load(String nameOrFile, Map<String, String> overrides) {
        Properties props = new Properties();
        String name;
        Path file = Path.of(nameOrFile);
        if (Files.isRegularFile(file)) {
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                props.load(r);
            } catch (IOException e) {
                throw new ConfigException("Cannot read config file " + file + ": " + e.getMessage());
            } catch (IllegalArgumentException e) { // found by fuzzing: Properties.load's answer to a bad \\u escape
                throw new ConfigException("Config file " + file + " is not a valid .properties file (" + e.getMessage()
                        + "): a backslash starts an escape; write \\\\ for a backslash.");
            }
            String fn = file.getFileName().toString();
            name = fn.endsWith(".properties") ? fn.substring(0, fn.length() - ".properties".length()) : fn;
        } else {
            try (InputStream in = Config.class.getResourceAsStream("/configs/" + nameOrFile + ".properties")) {
                if (in == null) {
                    throw new ConfigException("Unknown config '" + nameOrFile + "': it is neither a file nor one of "
                            + BUNDLED + ". Pass --config small|medium|large|test or the path of a .properties file.");
                }
                props.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new ConfigException("Cannot read bundled config " + nameOrFile + ": " + e.getMessage());
            }
            name = nameOrFile;
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (String k : props.stringPropertyNames()) values.put(k, props.getProperty(k).trim());
        for (var e : overrides.entrySet()) {
            if (!KEYS.contains(e.getKey())) {
                throw new ConfigException("Unknown key '" + e.getKey() + "' in --set. Known keys: " + KEYS);
            }
            values.put(e.getKey(), e.getValue().trim());
        }
        return fromMap(name, values, "config " + nameOrFile);
    }

    /** This config under another name (an import's, say), every key kept. */
    public Config renamed(String newName) {
        return fromMap(newName, toMap(), "config " + newName);
    }

    /** This config with some keys replaced (checked like {@code --set}); the name stays. */
    public Config withOverrides(Map<String, String> overrides) {
        Map<String, String> values = toMap();
        for (var e : overrides.entrySet()) {
            if (!KEYS.contains(e.getKey())) {
                throw new ConfigException("Unknown key '" + e.getKey() + "' in --set. Known keys: " + KEYS);
            }
            values.put(e.getKey(), e.getValue().trim());
        }
        return fromMap(name, values, "config " + name + " with --set");
    }

    static Config fromMap(String name, Map<String, String> values, String where) {
        for (String k : values.keySet()) {
            if (!KEYS.contains(k)) {
                throw new ConfigException("Unknown key '" + k + "' in " + where + ". Known keys: " + KEYS);
            }
        }
        for (String k : REQUIRED_KEYS) {
            if (!values.containsKey(k)) {
                throw new ConfigException("Missing key '" + k + "' in " + where + ". Every config needs: " + REQUIRED_KEYS);
            }
        }
        Map<String, String> all = new LinkedHashMap<>(OPTIONAL_KEYS);
        all.putAll(values);
        for (String k : List.of("keep_prob_input", "keep_prob_hidden", "keep_prob_output")) {
            if (all.get(k).equals(INHERIT) || all.get(k).isBlank()) all.put(k, all.get("keep_prob"));
        }
        Parser p = new Parser(all, where);
        Config c = new Config(name,
                p.real("init_scale", 0, false, 10),
                p.real("learning_rate", 0, false, 1e3),
                p.real("max_grad_norm", 0, false, 1e6),
                p.integer("num_layers", 1, 16),
                p.integer("num_steps", 1, 10_000),
                p.integer("hidden_size", 1, 16_384),
                p.integer("max_epoch", 1, 10_000),
                p.integer("max_max_epoch", 1, 10_000),
                p.real("keep_prob", 0, false, 1),
                p.real("lr_decay", 0, false, 1),
                p.integer("batch_size", 1, 100_000),
                p.integer("vocab_size", 2, 10_000_000),
                p.choice("precision", Precision::parse),
                p.integer("vocab_max_size", 0, 10_000_000),
                p.integer("vocab_min_count", 1, Integer.MAX_VALUE),
                p.bool("tie_weights"),
                p.bool("variational_dropout"),
                p.real("keep_prob_input", 0, false, 1),
                p.real("keep_prob_hidden", 0, false, 1),
                p.real("keep_prob_output", 0, false, 1),
                p.real("keep_prob_recurrent", 0, false, 1),
                p.real("keep_prob_words", 0, false, 1),
                p.real("keep_prob_tail", 0, false, 1),
                p.real("weight_decay", 0, true, 1),
                p.choice("lr_schedule", LrSchedule::parse),
                adaptive(all, where));
        if (c.adaptive == null && c.keepProbTail < 1) {
            throw new ConfigException("keep_prob_tail=" + all.get("keep_prob_tail") + " in " + where + " has no effect with softmax=full"
                    + " (it drops units of the adaptive softmax's tail clusters); set softmax=adaptive, or remove keep_prob_tail.");
        }
        return c;
    }

    /** The adaptive softmax the keys ask for, or null for softmax=full. */
    private static AdaptiveSoftmax adaptive(Map<String, String> all, String where) {
        String softmax = all.get("softmax"), cutoffs = all.get("adaptive_cutoffs");
        if (softmax.equals("full") && !cutoffs.isBlank()) {
            throw new ConfigException("adaptive_cutoffs=" + cutoffs + " in " + where + " has no effect with softmax=full;"
                    + " set softmax=adaptive, or remove adaptive_cutoffs.");
        }
        AdaptiveSoftmax a;
        try {
            a = AdaptiveSoftmax.parse(softmax, cutoffs, all.get("adaptive_div"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("In " + where + ": " + e.getMessage() + ".");
        }
        if (a != null && Boolean.parseBoolean(all.get("tie_weights").strip())) {
            throw new ConfigException("tie_weights=true and softmax=adaptive in " + where + " do not go together: tying"
                    + " shares the embedding with a full softmax's weight, and the adaptive softmax has no such matrix"
                    + " (its clusters are projected). Use one of the two.");
        }
        return a;
    }

    /** The config as properties lines, in key order (for logs and checkpoints). */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("init_scale", fmt(initScale));
        m.put("learning_rate", fmt(learningRate));
        m.put("max_grad_norm", fmt(maxGradNorm));
        m.put("num_layers", Integer.toString(numLayers));
        m.put("num_steps", Integer.toString(numSteps));
        m.put("hidden_size", Integer.toString(hiddenSize));
        m.put("max_epoch", Integer.toString(maxEpoch));
        m.put("max_max_epoch", Integer.toString(maxMaxEpoch));
        m.put("keep_prob", fmt(keepProb));
        m.put("lr_decay", fmt(lrDecay));
        m.put("batch_size", Integer.toString(batchSize));
        m.put("vocab_size", Integer.toString(vocabSize));
        m.put("precision", precision.key());
        m.put("vocab_max_size", Integer.toString(vocabMaxSize));
        m.put("vocab_min_count", Integer.toString(vocabMinCount));
        m.put("tie_weights", Boolean.toString(tieWeights));
        m.put("variational_dropout", Boolean.toString(variationalDropout));
        m.put("keep_prob_input", fmt(keepProbInput));
        m.put("keep_prob_hidden", fmt(keepProbHidden));
        m.put("keep_prob_output", fmt(keepProbOutput));
        m.put("keep_prob_recurrent", fmt(keepProbRecurrent));
        m.put("keep_prob_words", fmt(keepProbWords));
        m.put("keep_prob_tail", fmt(keepProbTail));
        m.put("weight_decay", fmt(weightDecay));
        m.put("lr_schedule", lrSchedule.key);
        m.put("softmax", adaptive == null ? "full" : "adaptive");
        m.put("adaptive_cutoffs", adaptive == null ? "" : adaptive.cutoffsText());
        m.put("adaptive_div", adaptive == null ? "4" : Integer.toString(adaptive.div()));
        return m;
    }

    private static String fmt(double d) {
        return Double.toString(d);
    }

    private record Parser(Map<String, String> values, String where) {
        /** A number in (lo, hi] when loInclusive is false, else [lo, hi]; "a/b" is allowed (lr_decay = 1/1.15). */
        double real(String key, double lo, boolean loInclusive, double hi) {
            String raw = values.get(key);
            double v;
            try {
                int slash = raw.indexOf('/');
                v = slash < 0 ? Double.parseDouble(raw)
                        : Double.parseDouble(raw.substring(0, slash).trim()) / Double.parseDouble(raw.substring(slash + 1).trim());
            } catch (NumberFormatException e) {
                throw new ConfigException("Key '" + key + "' in " + where + " is not a number: '" + raw + "'.");
            }
            boolean ok = !Double.isNaN(v) && (loInclusive ? v >= lo : v > lo) && v <= hi;
            if (ok && !loInclusive && (float) v <= (float) lo) {
                // the engine computes in float: a keep probability of 1e-70 would be 0 there (a fuzzing finding)
                throw new ConfigException("Key '" + key + "' in " + where + " is " + raw + ", which is " + (float) lo
                        + " in single precision, where the engine computes; it must be above " + lo + " there too.");
            }
            if (!ok) {
                throw new ConfigException("Key '" + key + "' in " + where + " is out of range: " + raw
                        + " (must be in " + (loInclusive ? "[" : "(") + lo + ", " + hi + "]).");
            }
            return v;
        }

        boolean bool(String key) {
            String raw = values.get(key).trim();
            if (raw.equalsIgnoreCase("true")) return true;
            if (raw.equalsIgnoreCase("false")) return false;
            throw new ConfigException("Key '" + key + "' in " + where + " is '" + raw + "'; it must be true or false.");
        }

        /** One of a few named values: {@code parse} gives null for anything else. */
        /** A value {@code parse} names, or the error it gives for one it does not (which names the choices). */
        <T> T choice(String key, java.util.function.Function<String, T> parse) {
            try {
                return parse.apply(values.get(key));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("Key '" + key + "' in " + where + ": " + e.getMessage() + ".");
            }
        }

        int integer(String key, int lo, int hi) {
            String raw = values.get(key);
            int v;
            try {
                v = Integer.parseInt(raw);
            } catch (NumberFormatException e) {
                throw new ConfigException("Key '" + key + "' in " + where + " is not an integer: '" + raw + "'.");
            }
            if (v < lo || v > hi) {
                throw new ConfigException("Key '" + key + "' in " + where + " is out of range: " + raw
                        + " (must be in [" + lo + ", " + hi + "]).");
            }
            return v;
        }
    }
}
