package lstmlm.infer;

import lstmlm.model.LayerSequence;
import lstmlm.model.WorkerTeam;

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
 * helper threads poll briefly, then park, so idle threads cost no CPU. Close it after its sessions.
 */
public final class StepThreads implements AutoCloseable, LayerSequence.ColumnSplit {
    /** Columns are split in blocks of 16 floats (64 bytes), so no two threads write one cache line. */
    private static final int BLOCK = 16;

    private final WorkerTeam team;
    private final ReentrantLock busy = new ReentrantLock();
    /** The product in progress (set under {@link #busy}), read by the team's threads. */
    private LayerSequence.ColumnRange current;
    private int currentCols;
    private boolean closed;
    private final WorkerTeam.RangeTask blocks = (chunk, from, to) -> current.run(from * BLOCK, Math.min(to * BLOCK, currentCols));

    /** {@code threads} threads in all, the caller's included: 1 runs every product on the caller. */
    public StepThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.team = new WorkerTeam(threads);
    }

    /** The threads a product runs on, the caller's included. */
    public int threads() {
        return team.size();
    }

    @Override
    public void run(int cols, LayerSequence.ColumnRange range) {
        if (team.size() == 1 || cols < 2 * BLOCK || !busy.tryLock()) {
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
            team.forRange(0, (cols + BLOCK - 1) / BLOCK, blocks);
        } finally {
            current = null;
            busy.unlock();
        }
    }

    /** Stops the helper threads; a product run afterwards runs on its caller alone. */
    @Override
    public void close() {
        busy.lock();
        try {
            closed = true;
            team.close();
        } finally {
            busy.unlock();
        }
    }
}
