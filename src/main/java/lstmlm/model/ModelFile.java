package lstmlm.model;

import lstmlm.data.DataException;
import lstmlm.data.Vocabulary;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A model file opened, validated and memory-mapped once: what training's checkpoints and the
 * inference API both read. One open, one pass of the checksum; the weights stay in the mapping
 * (read-only, shared with every other reader of the file through the page cache) until close.
 *
 * <p>The file is safetensors with {@link ParameterLayout}'s tensor names. Its {@code __metadata__}
 * has (among the training keys {@code lstmlm.train.Checkpoint} adds):
 * <pre>
 * format              "lstm-lm checkpoint 1"
 * config.vocab_size, config.hidden_size, config.num_layers   the shape the tensors must have
 * config.tie_weights  "true": no softmax.weight tensor, the output projection is the embedding's
 *                     transpose (absent: "false")
 * vocabulary          the words in id order, "\n"-joined
 * vocabulary.size     number of words (checked when present)
 * tensors.sha256      SHA-256 (hex) of every byte after the header
 * </pre>
 * Tensors named {@code state.*} are training state, not part of the model. Every problem is a
 * {@link ModelFileException} naming the file and what is wrong with it.
 */
public final class ModelFile implements AutoCloseable {
    public static final String FORMAT = "lstm-lm checkpoint 1";
    public static final String CHECKSUM_KEY = "tensors.sha256";
    /** Prefix of tensors that hold training state rather than weights. */
    public static final String STATE_PREFIX = "state.";

    private final SafetensorsFile file;
    private final ModelShape shape;
    private final ParameterLayout layout;
    private final Vocabulary vocabulary;

    private ModelFile(SafetensorsFile file, ModelShape shape, Vocabulary vocabulary) {
        this.file = file;
        this.shape = shape;
        this.layout = new ParameterLayout(shape);
        this.vocabulary = vocabulary;
    }

    /** Opens and checks {@code path}: structure, format, checksum, shape, vocabulary and every tensor. */
    public static ModelFile open(Path path) {
        SafetensorsFile f = SafetensorsFile.open(path);
        try {
            Map<String, String> meta = f.metadata();
            String format = meta.get("format");
            if (!FORMAT.equals(format)) {
                throw bad(path, format == null ? "its metadata has no 'format' key (expected \"" + FORMAT + "\")"
                        : "its format is \"" + format + "\", this program reads \"" + FORMAT + "\"");
            }
            verifyChecksum(path, f, required(path, meta, CHECKSUM_KEY));
            ModelShape shape;
            String tied = meta.getOrDefault("config.tie_weights", "false");
            if (!tied.equals("true") && !tied.equals("false")) {
                throw bad(path, "metadata 'config.tie_weights' is '" + tied + "', not true or false");
            }
            try {
                shape = new ModelShape(positiveInt(path, meta, "config.vocab_size"),
                        positiveInt(path, meta, "config.hidden_size"), positiveInt(path, meta, "config.num_layers"),
                        tied.equals("true"));
            } catch (IllegalArgumentException e) {
                throw bad(path, e.getMessage());
            }
            Vocabulary vocabulary = vocabulary(path, meta, shape);
            ParameterLayout layout = new ParameterLayout(shape);
            Set<String> unexpected = new LinkedHashSet<>(f.tensors().keySet());
            for (ParameterLayout.Tensor t : layout.tensors()) {
                checkShape(path, f, t.name(), t.dims());
                unexpected.remove(t.name());
            }
            unexpected.removeIf(name -> name.startsWith(STATE_PREFIX));
            if (!unexpected.isEmpty()) {
                throw bad(path, "it has tensors " + unexpected + " that a " + shape.layers()
                        + "-layer model does not have; it was written for another model");
            }
            return new ModelFile(f, shape, vocabulary);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    public Path path() {
        return file.path();
    }

    public ModelShape shape() {
        return shape;
    }

    public ParameterLayout layout() {
        return layout;
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    public Map<String, String> metadata() {
        return file.metadata();
    }

    /** The safetensors file underneath, for readers of further tensors (a checkpoint's training state). */
    public SafetensorsFile safetensors() {
        return file;
    }

    /** Bytes of tensor data in the file. */
    public long tensorBytes() {
        return file.allData().byteSize();
    }

    /**
     * The named weight tensor as a read-only view of the mapping, valid until {@link #close}. Floats can
     * be read in place when {@link SafetensorsFile#isAligned()}; our writer always aligns them.
     */
    public MemorySegment tensor(String name) {
        return file.data(name);
    }

    /** Copies every weight into {@code model}'s parameters (same shape) and tells it they changed. */
    public void copyInto(LanguageModel model) {
        if (!model.shape.equals(shape)) {
            throw new IllegalArgumentException("model file " + path() + " holds shape " + shape + ", not " + model.shape);
        }
        for (ParameterLayout.Tensor t : layout.tensors()) {
            MemorySegment src = file.data(t.name());
            MemorySegment.copy(src, 0, model.params, t.offset() * Float.BYTES, src.byteSize());
        }
        model.parametersChanged();
    }

    /** Unmaps the file: every view from {@link #tensor} dies with it. */
    @Override
    public void close() {
        file.close();
    }

    private static void verifyChecksum(Path path, SafetensorsFile f, String expected) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        MemorySegment data = f.allData();
        long chunk = 1L << 28;
        for (long at = 0; at < data.byteSize(); at += chunk) {
            digest.update(data.asSlice(at, Math.min(chunk, data.byteSize() - at)).asByteBuffer());
        }
        String actual = HexFormat.of().formatHex(digest.digest());
        if (!actual.equalsIgnoreCase(expected)) {
            throw bad(path, "checksum mismatch: the tensor data hashes to SHA-256 " + actual + " but "
                    + CHECKSUM_KEY + " says " + expected + "; the file is corrupt (use an older checkpoint)");
        }
    }

    private static Vocabulary vocabulary(Path path, Map<String, String> meta, ModelShape shape) {
        String words = required(path, meta, "vocabulary");
        Vocabulary v;
        try {
            v = Vocabulary.of(Arrays.asList(words.split("\n", -1)));
        } catch (DataException e) {
            throw bad(path, e.getMessage());
        }
        String size = meta.get("vocabulary.size");
        if (size != null && !size.equals(Integer.toString(v.size()))) {
            throw bad(path, "vocabulary.size says " + size + " but the vocabulary has " + v.size() + " words");
        }
        if (v.size() > shape.vocab()) {
            throw bad(path, "its vocabulary has " + v.size() + " words but its config's vocab_size is " + shape.vocab());
        }
        return v;
    }

    private static void checkShape(Path path, SafetensorsFile f, String name, long[] expected) {
        if (!f.tensors().containsKey(name)) {
            throw bad(path, "it has no tensor '" + name + "' (it has " + f.tensors().keySet() + ")");
        }
        long[] actual = f.tensor(name).shape();
        if (!Arrays.equals(actual, expected)) {
            throw bad(path, "tensor '" + name + "' has shape " + Arrays.toString(actual) + " but its config "
                    + "needs " + Arrays.toString(expected));
        }
    }

    private static String required(Path path, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw bad(path, "its metadata has no '" + key + "'");
        return v;
    }

    private static int positiveInt(Path path, Map<String, String> meta, String key) {
        String raw = required(path, meta, key);
        try {
            int v = Integer.parseInt(raw.trim());
            if (v < 1) throw bad(path, "metadata '" + key + "' is " + raw + "; it must be at least 1");
            return v;
        } catch (NumberFormatException e) {
            throw bad(path, "metadata '" + key + "' is not an integer: '" + raw + "'");
        }
    }

    static ModelFileException bad(Path path, String what) {
        return new ModelFileException("Bad model file " + path + ": " + what + ".");
    }
}
