package lstmlm.modelfile;

/** The element types a model file's tensors may have, by their safetensors names. */
public enum DType {
    F32(4), BF16(2), I8(1);

    /** Bytes per element. */
    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** The type of a safetensors dtype name, or null when the engine does not read it. */
    public static DType of(String safetensorsName) {
        for (DType d : values()) if (d.name().equals(safetensorsName)) return d;
        return null;
    }
}
