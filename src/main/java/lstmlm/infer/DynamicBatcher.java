package lstmlm.infer;

import lstmlm.model.LayerSequence;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Coalesces the steps of many sessions, fed on many threads, into batched steps: each
 * {@link Session#feed} of a session from {@link #newSession} queues its word and waits; one worker
 * thread takes the oldest queued steps, up to {@code maxBatch}, once as many are queued as the last
 * batch had (so a lone stream never waits) or the oldest has waited {@code maxWaitMicros}, and runs
 * them as one {@link LayerSequence#stepForward} over their rows (the products as GEMMs; a lone step
 * runs the one-row kernels, exactly as a plain session). Programs keep their one-session-per-stream
 * code and get the batched throughput.
 *
 * <p>Oldest first: the queue is FIFO, so no stream starves. A row's results equal the same
 * session's stepped alone as a {@link StepBatch} row's do: bit for bit in batches the one-row and
 * few-row kernels run, else to float rounding (the GEMMs sum in another order; 2e-5 in the tests). A step that fails (the model closed under it) fails with its
 * exception on every thread whose step was in that batch; the worker goes on. {@link #close} stops
 * new steps, completes every queued one and waits for the worker; a feed after it throws.
 *
 * <p>Memory is bounded: a session has at most one step queued (feed waits for it), and the batch's
 * buffers are allocated once. A thread waiting for its step cannot be interrupted out of it (the
 * worker may be writing its state); its interrupt status is kept.
 */
public final class DynamicBatcher implements AutoCloseable {
    private static final int IDLE = 0, QUEUED = 1, DONE = 2, FAILED = 3;

    /** A session's step in the queue: reused for all of that session's steps. */
    static final class Request {
        final Session session;
        int id;
        volatile int status = IDLE;
        Thread waiter;
        RuntimeException failure;

        Request(Session session) {
            this.session = session;
        }
    }

    /** Told of every batched step the worker runs, on the worker thread (a server's metrics, say): keep it short. */
    public interface Observer {
        void batchRan(int rows, long nanos);
    }

    private final Model model;
    private final Observer observer;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final LayerSequence.State batch;
    private final LayerSequence.Product oneRow, manyRows;
    private final int[] ids;
    private final Request[] taken;
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final Thread worker;
    private boolean closed;
    /** Rows of the last batch: how many queued steps the next one waits for (guarded by the lock). */
    private int lastBatch = 1;
    private volatile long batches, steps;

    /**
     * @param maxBatch      most steps run together (at least 1)
     * @param maxWaitMicros longest the oldest queued step waits for others to join it (0: run whatever is queued)
     */
    public DynamicBatcher(Model model, int maxBatch, long maxWaitMicros) {
        this(model, maxBatch, maxWaitMicros, (rows, nanos) -> {});
    }

    /** The same, telling {@code observer} of each batched step. */
    public DynamicBatcher(Model model, int maxBatch, long maxWaitMicros, Observer observer) {
        this(model, maxBatch, maxWaitMicros, observer, defaultWorker());
    }

    /** The worker thread a batcher has unless told otherwise: a platform daemon thread named lstm-dynamic-batcher. */
    public static java.util.concurrent.ThreadFactory defaultWorker() {
        return r -> Thread.ofPlatform().daemon().name("lstm-dynamic-batcher").unstarted(r);
    }

    /**
     * The same, with the worker thread made by {@code worker}: the program's say over the thread
     * that runs every batched product, e.g. its OpenMP team (oneDNN's matmul uses the calling
     * thread's), its name or its priority. The thread must run the runnable it is given.
     */
    public DynamicBatcher(Model model, int maxBatch, long maxWaitMicros, Observer observer,
                          java.util.concurrent.ThreadFactory worker) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        if (maxWaitMicros < 0) throw new IllegalArgumentException("maxWaitMicros must be >= 0, got " + maxWaitMicros);
        model.checkOpen();
        this.model = model;
        this.observer = observer;
        this.maxBatch = maxBatch;
        this.maxWaitNanos = TimeUnit.MICROSECONDS.toNanos(maxWaitMicros);
        long bytes = LayerSequence.State.bytes(maxBatch, model.layers, model.hidden, model.vocab);
        this.batch = new LayerSequence.State(java.lang.foreign.Arena.ofAuto().allocate(bytes, 64), maxBatch,
                model.layers, model.hidden, model.vocab);
        this.oneRow = LayerSequence.product(model.weights, 1, model.gemmWeights);
        this.manyRows = maxBatch > 1 ? LayerSequence.product(model.weights, maxBatch, model.gemmWeights) : oneRow;
        this.ids = new int[maxBatch];
        this.taken = new Request[maxBatch];
        this.worker = worker.newThread(this::work);
        if (this.worker == null) throw new IllegalArgumentException("the worker thread factory made no thread");
        this.worker.start();
    }

    /** A session whose steps this batcher runs; otherwise a {@link Session} like any other (one thread at a time). */
    public Session newSession() {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("This batcher is closed: open sessions on a new one.");
        } finally {
            lock.unlock();
        }
        return new Session(model, this);
    }

    public Model model() {
        return model;
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** Batched steps run so far. */
    public long batches() {
        return batches;
    }

    /** Session steps run so far: {@code steps() / batches()} is the mean batch. */
    public long steps() {
        return steps;
    }

    /** Steps queued now, waiting for a batch. */
    public int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** On the session's thread: queues the step and waits until the worker has run it. */
    void step(Request r, int id) {
        r.id = id;
        r.failure = null;
        r.waiter = Thread.currentThread();
        r.status = QUEUED;
        lock.lock();
        try {
            if (closed) {
                r.status = IDLE;
                throw new IllegalStateException("This batcher is closed: the step did not run.");
            }
            queue.addLast(r);
            if (queue.size() == 1 || queue.size() >= Math.min(maxBatch, lastBatch)) arrived.signal();
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        while (r.status == QUEUED) {
            LockSupport.park(this);
            if (Thread.interrupted()) interrupted = true;
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (r.status == FAILED) {
            r.status = IDLE;
            throw r.failure;
        }
        r.status = IDLE;
    }

    private void work() {
        while (true) {
            int n;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed) arrived.awaitUninterruptibly();
                if (queue.isEmpty()) return; // closed, and nothing left to complete
                // wait for as many streams as the last batch had, no more: a lone stream never waits,
                // and streams that arrive meanwhile join whatever batch they find
                int expected = Math.min(maxBatch, lastBatch);
                long deadline = System.nanoTime() + maxWaitNanos;
                while (queue.size() < expected && !closed) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) break;
                    try {
                        arrived.awaitNanos(left);
                    } catch (InterruptedException e) {
                        // only close() wakes the worker early; the loop sees it
                    }
                }
                n = Math.min(maxBatch, queue.size());
                for (int i = 0; i < n; i++) taken[i] = queue.pollFirst();
                lastBatch = n;
            } finally {
                lock.unlock();
            }
            runBatch(n);
        }
    }

    /** Gathers the sessions' states into the batch's rows, steps them together, scatters states and logits back. */
    private void runBatch(int n) {
        RuntimeException failure = null;
        long t0 = System.nanoTime();
        try {
            for (int i = 0; i < n; i++) {
                batch.copyRow(taken[i].session.state(), 0, i);
                ids[i] = taken[i].id;
            }
            model.enter();
            try {
                LayerSequence.stepForward(model.weights, n == 1 ? oneRow : manyRows, batch, ids, n);
            } finally {
                model.leave();
            }
            for (int i = 0; i < n; i++) {
                LayerSequence.State s = taken[i].session.state();
                s.copyRow(batch, i, 0);
                s.copyLogitsRow(batch, i, 0);
            }
            batches++;
            steps += n;
        } catch (RuntimeException e) {
            failure = e;
        } catch (Error e) {
            failure = new IllegalStateException("The batched step failed: " + e, e);
        }
        for (int i = 0; i < n; i++) {
            Request r = taken[i];
            taken[i] = null;
            Thread waiter = r.waiter;
            r.failure = failure;
            r.status = failure == null ? DONE : FAILED;
            LockSupport.unpark(waiter);
        }
        if (failure == null) {
            try {
                observer.batchRan(n, System.nanoTime() - t0);
            } catch (RuntimeException e) {
                // an observer's failure is not the streams': they already have their results
            }
        }
    }

    /** Stops new steps, completes the queued ones and waits for the worker to finish. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            arrived.signal();
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        while (true) {
            try {
                worker.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
