package lstmlm.modelfile;

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
 * format              "lstm-lm checkpoint 2"; "lstm-lm checkpoint 1" is the format before header.sha256
 * config.vocab_size, config.hidden_size, config.num_layers   the shape the tensors must have
 * config.tie_weights  "true": no softmax.weight tensor, the output projection is the embedding's
 *                     transpose (absent: "false")
 * config.softmax, config.adaptive_cutoffs, config.adaptive_div   "adaptive": the output layer's
 *                     tensors are an adaptive softmax's ({@link AdaptiveSoftmax}; absent: "full")
 * vocabulary          the words in id order, "\n"-joined
 * vocabulary.size     number of words (checked when present)
 * header.sha256       SHA-256 (hex) of the length field and the header with this value read as '0's
 *                     ({@link HeaderChecksum}); required in format 2
 * tensors.sha256      SHA-256 (hex) of every byte after the header
 * weights.format      fp32 (absent: fp32), bf16 or int8: the weight matrices' type ({@link WeightFormat});
 *                     int8 files have a float32 NAME.scale beside each matrix
 * </pre>
 * Tensors named {@code state.*} are training state and {@code source.*} what an import kept from its
 * source file ({@link #SOURCE_PREFIX}); neither is part of the model. Every problem is a
 * {@link ModelFileException} naming the file and what is wrong with it.
 *
 * <p>The two checksums cover every byte, so any change to a file is refused. Files of format 1
 * (written before the header checksum) still load, with their tensors checked as before and their
 * header taken as it is: {@link #headerVerified()} says which; {@code lstm quantize --format fp32}
 * rewrites one in the current format.
 */
public final class ModelFile implements AutoCloseable {
    public static final String FORMAT = "lstm-lm checkpoint 2";
    /** The format before {@code header.sha256}: read, never written. */
    public static final String FORMAT_1 = "lstm-lm checkpoint 1";
    public static final String CHECKSUM_KEY = SafetensorsWriter.TENSORS_CHECKSUM_KEY;
    /** Prefix of tensors that hold training state rather than weights. */
    public static final String STATE_PREFIX = "state.";
    /**
     * Prefix of tensors an import keeps from the file it came from, for a faithful export (PyTorch's two
     * LSTM biases, whose sum is the model's bias); not part of the model, and dropped by {@code quantize}.
     */
    public static final String SOURCE_PREFIX = "source.";

    private final SafetensorsFile file;
    private final ModelShape shape;
    private final ParameterLayout layout;
    private final Vocabulary vocabulary;
    private final WeightFormat format;
    private final boolean headerVerified;

    private ModelFile(SafetensorsFile file, ModelShape shape, Vocabulary vocabulary, WeightFormat format,
                      boolean headerVerified) {
        this.file = file;
        this.headerVerified = headerVerified;
        this.shape = shape;
        this.layout = new ParameterLayout(shape);
        this.vocabulary = vocabulary;
        this.format = format;
    }

    /** Opens and checks {@code path}: structure, format, checksum, shape, vocabulary and every tensor. */
    public static ModelFile open(Path path) {
        SafetensorsFile f = SafetensorsFile.open(path);
        FileCheck check = FileCheck.modelFile(path);
        try {
            Map<String, String> meta = f.metadata();
            boolean headerVerified = f.verifyHeaderChecksum();
            String format = meta.get("format");
            if (FORMAT.equals(format)) {
                if (!headerVerified) {
                    throw check.bad("its metadata has no '" + HeaderChecksum.KEY + "', which format 2 requires; the"
                            + " header is damaged (use an older checkpoint)");
                }
            } else if (!FORMAT_1.equals(format)) {
                throw check.bad(format == null ? "its metadata has no 'format' key (expected \"" + FORMAT + "\")"
                        : "its format is \"" + format + "\", this program reads \"" + FORMAT + "\" and \"" + FORMAT_1 + "\"");
            }
            verifyChecksum(check, f, check.required(meta, CHECKSUM_KEY));
            ModelShape shape;
            String tied = meta.getOrDefault("config.tie_weights", "false");
            if (!tied.equals("true") && !tied.equals("false")) {
                throw check.bad("metadata 'config.tie_weights' is '" + tied + "', not true or false");
            }
            try {
                shape = new ModelShape(check.intValue(meta, "config.vocab_size", 1),
                        check.intValue(meta, "config.hidden_size", 1), check.intValue(meta, "config.num_layers", 1),
                        tied.equals("true"), AdaptiveSoftmax.parse(meta.get("config.softmax"),
                                meta.get("config.adaptive_cutoffs"), meta.get("config.adaptive_div")));
            } catch (IllegalArgumentException e) {
                throw check.bad(e.getMessage());
            }
            Vocabulary vocabulary = vocabulary(check, meta, shape);
            String formatName = meta.getOrDefault(WeightFormat.METADATA_KEY, WeightFormat.FP32.key());
            WeightFormat weights;
            try {
                weights = WeightFormat.parse(formatName);
            } catch (IllegalArgumentException e) {
                throw check.bad("its " + WeightFormat.METADATA_KEY + " " + e.getMessage());
            }
            ParameterLayout layout = new ParameterLayout(shape);
            Set<String> unexpected = new LinkedHashSet<>(f.tensors().keySet());
            for (ParameterLayout.Tensor t : layout.tensors()) {
                boolean matrix = WeightFormat.isMatrix(t.name());
                check.checkShape(f, t.name(), t.dims(), matrix ? weights.matrixType : DType.F32);
                unexpected.remove(t.name());
                if (matrix && weights == WeightFormat.INT8) {
                    String scale = t.name() + WeightFormat.SCALE_SUFFIX;
                    long outputs = WeightFormat.scalesPerRow(t.name()) ? t.dims()[0] : t.dims()[1];
                    check.checkShape(f, scale, new long[]{outputs}, DType.F32);
                    unexpected.remove(scale);
                }
            }
            unexpected.removeIf(name -> name.startsWith(STATE_PREFIX) || name.startsWith(SOURCE_PREFIX));
            if (!unexpected.isEmpty()) {
                throw check.bad("it has tensors " + unexpected + " that a " + shape.layers()
                        + "-layer model does not have; it was written for another model");
            }
            return new ModelFile(f, shape, vocabulary, weights, headerVerified);
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

    /**
     * Whether the header (config, vocabulary, metadata) was checked against {@code header.sha256}: always
     * for the current format; false for a file of format 1, whose header has no checksum.
     */
    public boolean headerVerified() {
        return headerVerified;
    }

    /** How the weight matrices are stored. */
    public WeightFormat format() {
        return format;
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
     * The named tensor's bytes as a read-only view of the mapping (its elements of its {@link DType}),
     * valid until {@link #close}. They can be read in place when {@link SafetensorsFile#isAligned()};
     * our writer always aligns them.
     */
    public MemorySegment tensor(String name) {
        return file.data(name);
    }

    /** Every weight as float32 into {@code params} at the {@link #layout()}'s offsets (layout.size floats). */
    public void copyInto(MemorySegment params) {
        for (ParameterLayout.Tensor t : layout.tensors()) widenInto(t.name(), params, t.offset());
    }

    /** The named tensor as float32 at {@code offset} floats into {@code dst}: copied, widened from bf16, or int8 times its scales. */
    private void widenInto(String name, MemorySegment dst, long offset) {
        SafetensorsFile.Tensor t = file.tensor(name);
        MemorySegment src = file.data(name);
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(src, 0, dst, offset * Float.BYTES, src.byteSize());
            case BF16 -> lstmlm.kernels.Bf16.toFloats(src, 0, dst, offset, t.elements());
            // int8 tensors are matrices (WeightFormat.isMatrix): one scale per row of the embedding, else per column
            case I8 -> lstmlm.kernels.Int8.dequantize(src, file.data(name + WeightFormat.SCALE_SUFFIX), t.shape()[0],
                    t.shape()[1], WeightFormat.scalesPerRow(name), dst, offset);
        }
    }

    /**
     * The named tensor as float32 in new memory of {@code arena}: a copy of an F32 tensor, a bf16 one
     * widened, an int8 matrix times its scales (per row of the embedding, else per column).
     */
    public MemorySegment widened(String name, java.lang.foreign.Arena arena) {
        MemorySegment out = arena.allocate(file.tensor(name).elements() * Float.BYTES, 64);
        widenInto(name, out, 0);
        return out.asReadOnly();
    }

    /** Unmaps the file: every view from {@link #tensor} dies with it. */
    @Override
    public void close() {
        file.close();
    }

    private static void verifyChecksum(FileCheck check, SafetensorsFile f, String expected) {
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
            throw check.bad("checksum mismatch: the tensor data hashes to SHA-256 " + actual + " but "
                    + CHECKSUM_KEY + " says " + expected + "; the file is corrupt (use an older checkpoint)");
        }
    }

    private static Vocabulary vocabulary(FileCheck check, Map<String, String> meta, ModelShape shape) {
        String words = check.required(meta, "vocabulary");
        Vocabulary v;
        try {
            v = Vocabulary.of(Arrays.asList(words.split("\n", -1)));
        } catch (DataException e) {
            throw check.bad(e.getMessage());
        }
        String size = meta.get("vocabulary.size");
        if (size != null && !size.equals(Integer.toString(v.size()))) {
            throw check.bad("vocabulary.size says " + size + " but the vocabulary has " + v.size() + " words");
        }
        if (v.size() > shape.vocab()) {
            throw check.bad("its vocabulary has " + v.size() + " words but its config's vocab_size is " + shape.vocab());
        }
        return v;
    }
}
