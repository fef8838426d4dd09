package lstmlm.modelfile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The checks a reader of a model or checkpoint file makes on its metadata and tensors, each problem
 * a {@link ModelFileException} "Bad KIND FILE: WHAT." that names the file. {@link ModelFile},
 * training's checkpoints and the inference model all read through one of these.
 */
public record FileCheck(String kind, Path file) {
    public static FileCheck modelFile(Path file) {
        return new FileCheck("model file", file);
    }

    public static FileCheck checkpoint(Path file) {
        return new FileCheck("checkpoint", file);
    }

    public ModelFileException bad(String what) {
        return new ModelFileException("Bad " + kind + " " + file + ": " + what + ".");
    }

    public String required(Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw bad("its metadata has no '" + key + "'");
        return v;
    }

    /** An integer metadata value of at least {@code min}. */
    public long longValue(Map<String, String> meta, String key, long min) {
        String raw = required(meta, key);
        long v;
        try {
            v = Long.parseLong(raw.trim());
        } catch (NumberFormatException e) {
            throw bad("metadata '" + key + "' is not a 64-bit integer: '" + raw + "'");
        }
        if (v < min) throw bad("metadata '" + key + "' is " + raw + ", below " + min);
        return v;
    }

    /** An integer metadata value in [min, Integer.MAX_VALUE]. */
    public int intValue(Map<String, String> meta, String key, int min) {
        long v = longValue(meta, key, min);
        if (v > Integer.MAX_VALUE) throw bad("metadata '" + key + "' is " + v + ", above " + Integer.MAX_VALUE);
        return (int) v;
    }

    public double finiteDouble(Map<String, String> meta, String key) {
        String raw = required(meta, key);
        double v;
        try {
            v = Double.parseDouble(raw);
        } catch (NumberFormatException e) {
            throw bad("metadata '" + key + "' is not a number: '" + raw + "'");
        }
        if (!Double.isFinite(v)) throw bad("metadata '" + key + "' is not finite: " + raw);
        return v;
    }

    /** A comma-separated list of numbers; empty for an empty value. */
    public List<Double> doubles(Map<String, String> meta, String key) {
        String raw = required(meta, key);
        List<Double> list = new ArrayList<>();
        if (raw.isEmpty()) return list;
        for (String part : raw.split(",")) {
            try {
                list.add(Double.parseDouble(part));
            } catch (NumberFormatException e) {
                throw bad("metadata '" + key + "' is not a comma-separated list of numbers: '" + raw + "'");
            }
        }
        return list;
    }

    /** The tensor exists and has the shape {@code expected}. */
    public void checkShape(SafetensorsFile f, String name, long[] expected) {
        if (!f.tensors().containsKey(name)) {
            throw bad("it has no tensor '" + name + "' (it has " + f.tensors().keySet() + ")");
        }
        long[] actual = f.tensor(name).shape();
        if (!Arrays.equals(actual, expected)) {
            throw bad("tensor '" + name + "' has shape " + Arrays.toString(actual) + " but its config needs "
                    + Arrays.toString(expected));
        }
    }

    /** The same, and the tensor's elements are of {@code type}. */
    public void checkShape(SafetensorsFile f, String name, long[] expected, DType type) {
        checkShape(f, name, expected);
        if (f.tensor(name).dtype() != type) {
            throw bad("tensor '" + name + "' is " + f.tensor(name).dtype() + " but its weights.format needs " + type);
        }
    }
}
