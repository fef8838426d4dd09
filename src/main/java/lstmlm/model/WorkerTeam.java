package lstmlm.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of threads that split a range of rows into contiguous chunks, one per thread; the
 * calling thread takes chunk 0. The split depends only on the range and the team size, so a run
 * with the same thread count is bit-for-bit repeatable.
 *
 * <p>Waiting is a short spin, then park. The per-step recurrent products hand work over every
 * 50–100 µs, and waking a parked thread costs tens of microseconds, so a waiter first polls for
 * {@link #SPIN_NANOS}; longer waits (a large OpenBLAS multiply runs for milliseconds) park, so
 * nobody spins on a core that OpenBLAS or the caller needs.
 */
public final class WorkerTeam implements AutoCloseable {

    /** Work on rows [from, to) as chunk {@code chunk} of the team. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int chunk, int from, int to);
    }

    /** How long a waiter polls before it parks. */
    static final long SPIN_NANOS = 50_000;

    private final int size;
    private final Thread[] threads;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile RangeTask task;
    private volatile int rangeFrom, rangeTo;
    private volatile long generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private volatile Throwable failure;

    public WorkerTeam(int size) {
        if (size < 1) throw new IllegalArgumentException("need at least one thread, got " + size);
        this.size = size;
        this.threads = new Thread[size - 1];
        for (int i = 0; i < threads.length; i++) {
            int chunk = i + 1;
            threads[i] = Thread.ofPlatform().daemon().name("lstm-rows-" + chunk).unstarted(() -> loop(chunk));
            threads[i].start();
        }
    }

    public int size() {
        return size;
    }

    /** Runs {@code task} over [from, to) split into {@link #size()} chunks, and waits for all. */
    public void forRange(int from, int to, RangeTask task) {
        if (size == 1 || to - from < 2) {
            task.run(0, from, to);
            return;
        }
        this.task = task;
        this.rangeFrom = from;
        this.rangeTo = to;
        this.caller = Thread.currentThread();
        this.failure = null;
        pending.set(threads.length);
        generation++;
        for (Thread t : threads) LockSupport.unpark(t);
        runChunk(0, task, from, to);
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (pending.get() != 0) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else LockSupport.park(this);
        }
        this.task = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    private void runChunk(int chunk, RangeTask t, int from, int to) {
        long n = to - from;
        int lo = from + (int) (n * chunk / size);
        int hi = from + (int) (n * (chunk + 1) / size);
        if (lo < hi) t.run(chunk, lo, hi);
    }

    private void loop(int chunk) {
        long seen = 0;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            try {
                runChunk(chunk, task, rangeFrom, rangeTo);
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
