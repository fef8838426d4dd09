package lstmlm.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
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
