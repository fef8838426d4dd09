package lstmlm.modelfile;

import java.util.Locale;

/**
 * How a model file stores its weight matrices (the embedding, every LSTM weight, the softmax
 * weight); biases are always float32. Metadata key {@code weights.format}; absent means fp32.
 *
 * <ul>
 * <li>{@link #FP32}: float32, what training writes.</li>
 * <li>{@link #BF16}: bfloat16, each value rounded to nearest even: half the bytes.</li>
 * <li>{@link #INT8}: signed bytes with a float32 scale per output unit, symmetric
 * (w ≈ scale · q, q in [−127, 127], scale = max |w| / 127): a quarter of the bytes. The scale
 * tensor is {@code NAME.scale}. A product's output j sums x_k · q[k, j] over its inputs and is
 * scaled once at the end, so scales go with outputs: per column of an LSTM weight [in × 4H] and of
 * the softmax weight [H × V], per row (word) of the embedding [V × H], which is also the output
 * axis when the softmax is tied to it.</li>
 * </ul>
 */
public enum WeightFormat {
    FP32(DType.F32), BF16(DType.BF16), INT8(DType.I8);

    public static final String METADATA_KEY = "weights.format";
    public static final String SCALE_SUFFIX = ".scale";

    /** The element type of the weight matrices. */
    public final DType matrixType;

    WeightFormat(DType matrixType) {
        this.matrixType = matrixType;
    }

    /** The metadata value and command-line name: fp32, bf16 or int8. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a key (any case); an IllegalArgumentException that names the choices otherwise. */
    public static WeightFormat parse(String s) {
        for (WeightFormat f : values()) if (f.key().equalsIgnoreCase(s.trim())) return f;
        throw new IllegalArgumentException("'" + s + "' is not " + choices());
    }

    /** "fp32, bf16 or int8", for the error a bad value gets. */
    public static String choices() {
        return "fp32, bf16 or int8";
    }

    /** Whether the named tensor of the layout is a weight matrix (stored in this format), not a bias. */
    public static boolean isMatrix(String tensorName) {
        return tensorName.equals("embedding") || tensorName.endsWith(".weight");
    }

    /** Whether the matrix's int8 scales run along its rows (the embedding) rather than its columns. */
    public static boolean scalesPerRow(String tensorName) {
        return tensorName.equals("embedding");
    }
}
