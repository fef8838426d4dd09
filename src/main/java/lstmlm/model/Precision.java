package lstmlm.model;

import java.util.Locale;

/**
 * What the GEMMs of a training window compute in. Everything else (master weights, accumulation,
 * cell state, softmax and cross-entropy, norms, the update) is float32 in both.
 */
public enum Precision {
    /** Every product in float32 (OpenBLAS sgemm and the Java few-row kernel): TensorFlow's arithmetic. */
    FP32,
    /**
     * GEMM inputs rounded to bfloat16 (8-bit mantissa), accumulated and written in float32 by
     * oneDNN: weights keep float32 masters with bf16 mirrors the update refreshes; activations are
     * written in bf16 by the kernels that produce them, beside the float32 values backward needs.
     */
    BF16;

    /** The config value: "fp32" or "bf16". */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses "fp32" or "bf16" (any case); an IllegalArgumentException that names the choices otherwise. */
    public static Precision parse(String s) {
        for (Precision p : values()) if (p.key().equalsIgnoreCase(s.trim())) return p;
        throw new IllegalArgumentException("'" + s + "' is not " + choices());
    }

    /** "fp32 or bf16", for the error a bad value gets. */
    public static String choices() {
        return "fp32 or bf16";
    }
}
