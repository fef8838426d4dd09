package lstmlm.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import lstmlm.model.Precision;

/**
 * A training configuration with TensorFlow's key names. Loaded from a {@code .properties} file or
 * a bundled name ({@code small}, {@code medium}, {@code large}, {@code test}); every key must be
 * present, known and in range.
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
        Precision precision) {

    public static final List<String> BUNDLED = List.of("small", "medium", "large", "test");
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

    private static Map<String, String> optionalKeys() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("precision", Precision.FP32.key());
        return java.util.Collections.unmodifiableMap(m);
    }

    private static List<String> allKeys() {
        List<String> keys = new java.util.ArrayList<>(REQUIRED_KEYS);
        keys.addAll(OPTIONAL_KEYS.keySet());
        return List.copyOf(keys);
    }

    /** Learning rate for 0-based epoch i: learning_rate · lr_decay^max(i + 1 − max_epoch, 0). */
    public double learningRate(int epoch) {
        return learningRate * Math.pow(lrDecay, Math.max(epoch + 1 - maxEpoch, 0));
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
        Parser p = new Parser(all, where);
        return new Config(name,
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
                p.precision("precision"));
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
            if (!ok) {
                throw new ConfigException("Key '" + key + "' in " + where + " is out of range: " + raw
                        + " (must be in " + (loInclusive ? "[" : "(") + lo + ", " + hi + "]).");
            }
            return v;
        }

        Precision precision(String key) {
            String raw = values.get(key);
            Precision p = Precision.parse(raw);
            if (p == null) {
                throw new ConfigException("Key '" + key + "' in " + where + " is '" + raw + "'; it must be fp32 or bf16.");
            }
            return p;
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
