package lstmlm.interop;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The element types of PyTorch storages, by the storage class a pickle names. The floating ones read as
 * float32 (what this engine computes in); the others are known only so that a message can name them.
 */
enum TorchDType {
    FLOAT("FloatStorage", 4), DOUBLE("DoubleStorage", 8), HALF("HalfStorage", 2), BFLOAT16("BFloat16Storage", 2),
    LONG("LongStorage", 8), INT("IntStorage", 4), SHORT("ShortStorage", 2), CHAR("CharStorage", 1),
    BYTE("ByteStorage", 1), BOOL("BoolStorage", 1);

    final String storage;
    final int bytes;

    TorchDType(String storage, int bytes) {
        this.storage = storage;
        this.bytes = bytes;
    }

    /** The type of {@code torch.<name>}, or null when the name is not a storage type. */
    static TorchDType ofStorage(String name) {
        for (TorchDType t : values()) if (t.storage.equals(name)) return t;
        return null;
    }

    boolean floating() {
        return this == FLOAT || this == DOUBLE || this == HALF || this == BFLOAT16;
    }

    /** Element {@code i} (little-endian, as torch.save writes on every platform it runs on) as a float. */
    float read(MemorySegment data, long i) {
        return switch (this) {
            case FLOAT -> data.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
            case DOUBLE -> (float) data.getAtIndex(JAVA_DOUBLE_UNALIGNED, i);
            case HALF -> Float.float16ToFloat(data.getAtIndex(JAVA_SHORT_UNALIGNED, i));
            case BFLOAT16 -> Float.intBitsToFloat(data.getAtIndex(JAVA_SHORT_UNALIGNED, i) << 16);
            default -> throw new IllegalStateException(this + " is not a floating type");
        };
    }
}
