package lstmlm.infer;

import lstmlm.model.LayerSequence;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Threads that share the products of one stream's step: each product's output columns are split
 * into one contiguous range per thread (the calling thread takes the first), so a single session
 * uses several cores for its latency. Every output is computed by the same one-row kernel over the
 * same inputs whichever thread takes it, so a session's results are bit for bit those of one thread.
 *
 * <p>Give it to {@link Model#newSession(StepThreads)}; several sessions may share one: a product
 * that finds the threads busy with another session's product runs on its own thread, so sessions on
 * many threads never wait for each other (and never oversubscribe the cores). Between products the
 * helper threads poll for {@link #SPIN_NANOS}, then park, so idle threads cost no CPU. Close it after
 * its sessions.
 *
 * <p>Each thread calls the range directly (no task objects, no lambdas in between): the kernels
 * then sit few enough calls deep that C2 keeps their vectors in registers rather than boxing them.
 */
public final class StepThreads implements AutoCloseable, LayerSequence.ColumnSplit {
    /** How long a waiting thread polls before it parks: a step's products follow each other within microseconds. */
    static final long SPIN_NANOS = 50_000;

    private final int size;
    private final Thread[] helpers;
    private final ReentrantLock busy = new ReentrantLock();
    private final AtomicInteger pending = new AtomicInteger();
    /** The product in progress, published by the write of {@link #generation}. */
    private LayerSequence.ColumnRange current;
    private int currentCols;
    private volatile long generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private volatile Throwable failure;

    /** {@code threads} threads in all, the caller's included: 1 runs every product on the caller. */
    public StepThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.size = threads;
        this.helpers = new Thread[threads - 1];
        for (int i = 0; i < helpers.length; i++) {
            int part = i + 1;
            helpers[i] = Thread.ofPlatform().daemon().name("lstm-step-" + part).unstarted(() -> loop(part));
            helpers[i].start();
        }
    }

    /** The threads a product runs on, the caller's included. */
    public int threads() {
        return size;
    }

    @Override
    public void run(int cols, LayerSequence.ColumnRange range) {
        if (size == 1 || cols < 2 * BLOCK || !busy.tryLock()) {
            range.run(0, cols);
            return;
        }
        try {
            if (closed) {
                range.run(0, cols);
                return;
            }
            current = range;
            currentCols = cols;
            caller = Thread.currentThread();
            failure = null;
            pending.set(helpers.length);
            generation++;
            for (Thread t : helpers) LockSupport.unpark(t);
            range.run(0, end(0, cols));
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (pending.get() != 0) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            Throwable f = failure;
            if (f instanceof RuntimeException e) throw e;
            if (f instanceof Error e) throw e;
            if (f != null) throw new IllegalStateException(f);
        } finally {
            current = null;
            busy.unlock();
        }
    }

    /** Where part p of [0, cols) ends: the parts are whole blocks, as even as they come. */
    private int end(int part, int cols) {
        int blocks = (cols + BLOCK - 1) / BLOCK;
        return Math.min(cols, (int) ((long) blocks * (part + 1) / size) * BLOCK);
    }

    private void loop(int part) {
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
                int cols = currentCols, from = end(part - 1, cols), to = end(part, cols);
                if (from < to) current.run(from, to);
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
            }
        }
    }

    /** Stops the helper threads; a product run afterwards runs on its caller alone. */
    @Override
    public void close() {
        busy.lock();
        try {
            closed = true;
            for (Thread t : helpers) LockSupport.unpark(t);
        } finally {
            busy.unlock();
        }
    }
}
