package lstmlm.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one place that picks vector shapes, so every kernel agrees on lane counts.
 *
 * <p>All kernels work on native float segments (the Vector API refuses heap segments that are not
 * backed by {@code byte[]}). Offsets and lengths in kernel signatures are in float elements; the
 * vector loops multiply them by 4 for FloatVector.fromMemorySegment / intoMemorySegment.
 *
 * <p>There are deliberately no load/store helpers taking or returning FloatVector: in a big loop
 * C2 can hit its inlining node budget, and a vector that crosses a call left un-inlined is boxed
 * on the heap. The JDK's own vector methods are force-inlined, so kernels call them directly.
 */
public final class VectorShapes {
    private VectorShapes() {}

    /** Widest float shape the CPU runs natively (16 lanes with AVX-512, 8 with AVX2). */
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Int species of the same shape as {@link #F}, so int and float lanes line up one to one. */
    public static final VectorSpecies<Integer> I = F.withLanes(int.class);

    public static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    // Rotations by 8, 4, 2, 1 lanes: folding a vector onto itself with these sums its lanes in
    // one fixed order.
    private static final VectorShuffle<Float> FOLD8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> FOLD4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> FOLD2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> FOLD1 = VectorShuffle.iota(F, 1, 1, true);

    /**
     * Sum of the lanes of {@code v} (species {@link #F}) in a fixed order. {@code reduceLanes(ADD)}
     * may combine float lanes in any order, and does so differently interpreted and compiled, which
     * would make results depend on JIT timing. Small, so C2 inlines it and the vector is not boxed.
     */
    public static float sumLanes(FloatVector v) {
        final int n = v.length();
        if (n > 16) {
            float s = 0;
            for (int i = 0; i < n; i++) s += v.lane(i);
            return s;
        }
        if (n == 16) v = v.add(v.rearrange(FOLD8));
        if (n >= 8) v = v.add(v.rearrange(FOLD4));
        if (n >= 4) v = v.add(v.rearrange(FOLD2));
        if (n >= 2) v = v.add(v.rearrange(FOLD1));
        return v.lane(0);
    }

    /** Scalar access for loop tails; aligned layout since every segment holds whole floats. */
    public static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;

    /** Float-element offset to byte offset. */
    public static long bytes(long floats) {
        return floats << 2;
    }

    // Scalar element accessors for tails and references (no vectors cross them, so an un-inlined
    // call costs a call, never an allocation).

    static float get(MemorySegment seg, long off) {
        return seg.getAtIndex(FLOAT, off);
    }

    static void set(MemorySegment seg, long off, float v) {
        seg.setAtIndex(FLOAT, off, v);
    }
}
