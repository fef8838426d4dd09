package lstmlm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** The three model shapes of the PTB configs, and random off-heap buffers to run kernels on. */
final class Shapes {
    static final int BATCH = 20, VOCAB = 10_000;

    private Shapes() {}

    static int hidden(String shape) {
        return switch (shape) {
            case "small" -> 200;
            case "medium" -> 650;
            case "large" -> 1500;
            default -> throw new IllegalArgumentException("shape " + shape);
        };
    }

    static int steps(String shape) {
        return shape.equals("small") ? 20 : 35;
    }

    /** Dense parameters of a 2-layer model (everything but the sparse embedding). */
    static long denseParameters(String shape) {
        long h = hidden(shape);
        return 2 * (2 * h * 4 * h + 4 * h) + h * VOCAB + VOCAB;
    }

    static MemorySegment random(Arena arena, long floats, float scale, long seed) {
        MemorySegment s = arena.allocate(floats * Float.BYTES, 64);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < floats; i++) s.setAtIndex(JAVA_FLOAT, i, (float) ((r.nextDouble() * 2 - 1) * scale));
        return s;
    }
}
