package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.I;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * bfloat16: the top 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits), the input type
 * of the bf16 GEMMs. Conversions between float32 segments and bf16 segments (16-bit elements),
 * offsets and lengths in elements of each side's own type.
 *
 * <p>float32 → bf16 rounds to nearest, ties to even, as the hardware's VCVTNEPS2BF16 and oneDNN
 * do: add 0x7FFF plus the lowest kept bit, keep the top half. Infinities stay infinities, values
 * that round past the largest bf16 become infinity, and a NaN stays a NaN (its top half with the
 * quiet bit set: rounding could otherwise carry a NaN's payload into infinity). bf16 → float32 is
 * exact: the bits move up by 16.
 */
public final class Bf16 {
    private Bf16() {}

    /** Short lanes of half {@link VectorShapes#F}'s width: one bf16 lane per float lane. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));

    public static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT;

    /** The bf16 nearest {@code x} (ties to even), as its 16 bits. */
    public static short fromFloat(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The float32 a bf16 stands for (exact). */
    public static float toFloat(short b) {
        return Float.intBitsToFloat(b << 16);
    }

    /** dst[dstOff + i] = bf16(src[srcOff + i]) for i in [0, n). */
    public static void fromFloats(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
        final long upper = n - n % F.length();
        long i = 0;
        for (; i < upper; i += F.length()) {
            IntVector bits = FloatVector.fromMemorySegment(F, src, 4 * (srcOff + i), NATIVE).reinterpretAsInts();
            IntVector top = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(0x7FFF).add(top.and(1)).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector out = rounded.blend(top.or(0x40), nan);
            out.convertShape(VectorOperators.I2S, S, 0).reinterpretAsShorts()
                    .intoMemorySegment(dst, 2 * (dstOff + i), NATIVE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(BF16, dstOff + i, fromFloat(src.getAtIndex(ValueLayout.JAVA_FLOAT, srcOff + i)));
        }
    }

    /** dst[dstOff + i] = float(src[srcOff + i]) for i in [0, n). */
    public static void toFloats(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
        final long upper = n - n % F.length();
        long i = 0;
        for (; i < upper; i += F.length()) {
            ShortVector b = ShortVector.fromMemorySegment(S, src, 2 * (srcOff + i), NATIVE);
            ((IntVector) b.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats().intoMemorySegment(dst, 4 * (dstOff + i), NATIVE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, dstOff + i, toFloat(src.getAtIndex(BF16, srcOff + i)));
        }
    }
}
