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
 * <p>No method of ours takes or returns a vector: a vector that crosses a call C2 leaves
 * un-inlined is boxed on the heap, and whether C2 inlines a call depends on profiles and on how
 * much the compiled caller has already inlined, so it differs from run to run. The JDK's own vector
 * methods are force-inlined, so kernels call them directly, and the allocation tests run once with
 * every method of ours kept from inlining (the pom's {@code no-inlining} execution).
 */
public final class VectorShapes {
    private VectorShapes() {}

    /** Widest float shape the CPU runs natively (16 lanes with AVX-512, 8 with AVX2). */
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Int species of the same shape as {@link #F}, so int and float lanes line up one to one. */
    public static final VectorSpecies<Integer> I = F.withLanes(int.class);

    public static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Rotations by half, a quarter, … one lane of {@link #F}. Folding a vector onto itself with each,
     * {@code for (var fold : FOLDS) v = v.add(v.rearrange(fold));}, leaves the sum of its lanes in
     * lane 0, in one fixed order. {@code reduceLanes(ADD)} may combine float lanes in any order, and
     * does so differently interpreted and compiled, which would make results depend on JIT timing.
     */
    static final VectorShuffle<Float>[] FOLDS = folds();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] folds() {
        VectorShuffle<Float>[] folds = new VectorShuffle[Integer.numberOfTrailingZeros(F.length())];
        for (int k = 0; k < folds.length; k++) folds[k] = VectorShuffle.iota(F, F.length() >> (k + 1), 1, true);
        return folds;
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
