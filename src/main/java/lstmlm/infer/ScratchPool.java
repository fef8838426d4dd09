package lstmlm.infer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Native scratch memory of one size (a session's, or a batch scorer's of one batch size) for one
 * model: a closed session gives its slab back and the next one opened takes it, zeroed. A server
 * that opens and closes thousands of sessions a second then holds about as many slabs as it has
 * sessions open, instead of every slab it ever used until a garbage collection frees them: the
 * soak (16 threads, 120 s, ~100k sessions) saw native memory peak at 2.5 GB between collections
 * when each session had its own GC-managed memory.
 *
 * <p>Slabs are GC-managed ({@link Arena#ofAuto}), never closed explicitly: closing a shared arena
 * makes the JVM handshake every thread and deoptimise frames inside a memory access, which stalled
 * the sessions of other threads (see {@link BatchScorer}). A session that is never closed is simply
 * collected, slab and all. At most {@code maxPooledBytes} wait in the pool; more are left to the GC.
 */
final class ScratchPool {
    /** What one pool keeps at most, in bytes (per model and size). */
    static final long MAX_POOLED_BYTES = 64L << 20;

    private final long bytes;
    private final int maxSlabs;
    private final ConcurrentLinkedDeque<MemorySegment> free = new ConcurrentLinkedDeque<>();
    private final AtomicInteger pooled = new AtomicInteger();

    ScratchPool(long bytes, long maxPooledBytes) {
        if (bytes <= 0) throw new IllegalArgumentException("slab bytes must be positive, got " + bytes);
        this.bytes = bytes;
        this.maxSlabs = (int) Math.clamp(maxPooledBytes / bytes, 1, Integer.MAX_VALUE);
    }

    /** A zeroed slab of this pool's size, 64-byte aligned: a pooled one, or a new one. */
    MemorySegment take() {
        MemorySegment s = free.pollFirst(); // last in, first out: the slab most likely still in cache
        if (s == null) return Arena.ofAuto().allocate(bytes, 64);
        pooled.decrementAndGet();
        return s.fill((byte) 0);
    }

    /** Gives a slab back (its user must not touch it again); beyond the cap it is left to the GC. */
    void give(MemorySegment slab) {
        if (slab.byteSize() != bytes) throw new IllegalArgumentException("a slab of " + slab.byteSize() + " bytes, not " + bytes);
        if (pooled.incrementAndGet() <= maxSlabs) {
            free.offerFirst(slab);
        } else {
            pooled.decrementAndGet();
        }
    }

    /** Slabs waiting in the pool now. */
    int pooled() {
        return pooled.get();
    }

    /** Forgets every pooled slab (the model closes): the GC frees them. */
    void clear() {
        free.clear();
        pooled.set(0);
    }

    /**
     * Cuts consecutive 64-byte-aligned pieces from a slab, in the order a constructor asks for them;
     * {@link #size} gives the slab size that the same sequence of requests needs.
     */
    static final class Cutter {
        private final MemorySegment slab;
        private long offset;

        Cutter(MemorySegment slab) {
            this.slab = slab;
        }

        MemorySegment next(long bytes) {
            MemorySegment piece = slab == null ? null : slab.asSlice(offset, bytes);
            offset = align(offset + bytes);
            return piece;
        }

        /** The slab bytes the pieces asked so far need (a Cutter over null only measures). */
        long size() {
            return offset;
        }

        private static long align(long n) {
            return (n + 63) & ~63L;
        }
    }
}
