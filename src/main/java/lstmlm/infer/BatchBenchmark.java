package lstmlm.infer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Throughput and per-step latency of many streams, in one process: a {@link StepBatch} of N rows
 * stepped together, and C threads each stepping its own session through a {@link DynamicBatcher}.
 * Every token does the same work in both: feed a word, then the log-probability of a word (which
 * needs the row's normaliser, one pass over the vocabulary), so tokens/s compare across N and C.
 * A batch of 1 runs the one-row kernels: the single-stream rate of the same run.
 */
public final class BatchBenchmark {
    private BatchBenchmark() {}

    /**
     * One measurement: {@code streams} rows (kind "batch") or threads (kind "sessions"), tokens per
     * second over all of them, and the latency of one step (a batched step, or one session's feed
     * and log-probability as its thread saw it, waiting included). {@code meanBatch}: rows per
     * batched step (the batcher's; N for a batch).
     */
    public record Row(String kind, int streams, double tokensPerS, double p50Us, double p99Us, double meanBatch) {
        public ObjectNode toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("kind", kind);
            o.put("streams", streams);
            o.put("tokens_per_s", tokensPerS);
            o.put("p50_us", p50Us);
            o.put("p99_us", p99Us);
            o.put("mean_batch", meanBatch);
            return o;
        }

        public String toText() {
            return String.format(java.util.Locale.ROOT, "%-8s %4d  %10.0f tokens/s  p50 %9.1f us  p99 %9.1f us  mean batch %5.1f",
                    kind, streams, tokensPerS, p50Us, p99Us, meanBatch);
        }
    }

    /**
     * N rows stepped together for about {@code seconds}, the rows' normalisers split over
     * {@code normalisers} (one thread: the caller's alone), after a warm-up that lasts until two
     * rounds in a row give the same rate within {@link #SETTLED} (on two cores the JIT compiles
     * while the GEMMs' threads hold both, and a fixed warm-up of 2 s left the rate half its value).
     */
    public static Row batch(Model model, int n, double seconds, long seed, StepThreads normalisers) {
        Stepper stepper = new Stepper(model.newStepBatch(n, normalisers), model.vocabularySize(), seed);
        long round = (long) (seconds / 2 * 1e9);
        warmUp(() -> stepper.run(round));
        double rate = stepper.run((long) (seconds * 1e9));
        return row("batch", n, rate * n, new Latencies(stepper.nanos, stepper.recorded), n);
    }

    /** Runs warm-up rounds, each returning its rate, until two in a row agree within {@link #SETTLED} (at most {@link #WARM_UP_ROUNDS}). */
    private static void warmUp(java.util.function.DoubleSupplier round) {
        double previous = 0;
        for (int i = 0; i < WARM_UP_ROUNDS; i++) {
            double rate = round.getAsDouble();
            if (rate > 0 && Math.abs(rate - previous) <= SETTLED * rate) return;
            previous = rate;
        }
    }

    /** Two warm-up rounds whose rates differ by at most this share have settled. */
    static final double SETTLED = 0.03;
    /** Warm-up rounds at most, whatever the rates do. */
    static final int WARM_UP_ROUNDS = 12;

    /** Steps a batch with random words, each step a feed and a log-probability per row, timing each step. */
    private static final class Stepper {
        final StepBatch batch;
        final int n;
        final int[] words, ids;
        final long[] nanos = new long[1 << 16];
        int cursor, recorded;
        float sink;

        Stepper(StepBatch batch, int vocab, long seed) {
            this.batch = batch;
            this.n = batch.capacity();
            this.words = new SplittableRandom(seed).ints(1 << 12, 0, vocab).toArray();
            this.ids = new int[n];
            batch.start(n);
        }

        /** Steps for about {@code duration} ns (at least 3 steps); each step's time recorded afresh. Returns steps/s. */
        double run(long duration) {
            long start = System.nanoTime(), end = start + duration, now = start, steps = 0;
            recorded = 0;
            while (now < end || steps < 3) {
                for (int r = 0; r < n; r++) ids[r] = words[cursor++ & (words.length - 1)];
                long t0 = System.nanoTime();
                batch.step(ids);
                for (int r = 0; r < n; r++) sink += batch.logProbability(r, words[cursor++ & (words.length - 1)]);
                now = System.nanoTime();
                if (recorded < nanos.length) nanos[recorded++] = now - t0;
                steps++;
            }
            if (sink == 42.4242f) System.out.print(""); // keep the results alive
            return steps / ((now - start) / 1e9);
        }
    }

    /**
     * {@code threads} threads, each stepping its own session of {@code batcher}, for about
     * {@code seconds} after a warm-up that ends as {@link #batch}'s does, on the batcher's step rate.
     */
    public static Row sessions(DynamicBatcher batcher, int threads, double seconds, long seed) throws InterruptedException {
        int vocab = batcher.model().vocabularySize();
        AtomicBoolean measuring = new AtomicBoolean(), stop = new AtomicBoolean();
        long[][] nanos = new long[threads][1 << 14];
        int[] recorded = new int[threads];
        long[] tokens = new long[threads];
        CountDownLatch done = new CountDownLatch(threads);
        List<Thread> started = new ArrayList<>();
        for (int c = 0; c < threads; c++) {
            int me = c;
            started.add(Thread.ofPlatform().daemon().start(() -> {
                SplittableRandom random = new SplittableRandom(seed + me);
                float sink = 0;
                try (Session s = batcher.newSession()) {
                    while (!stop.get()) {
                        long t0 = System.nanoTime();
                        s.feed(random.nextInt(vocab));
                        sink += s.logProbability(random.nextInt(vocab));
                        long t = System.nanoTime() - t0;
                        if (measuring.get()) {
                            tokens[me]++;
                            if (recorded[me] < nanos[me].length) nanos[me][recorded[me]++] = t;
                        }
                    }
                } finally {
                    if (sink == 42.4242f) System.out.print("");
                    done.countDown();
                }
            }));
        }
        // warm-up, as the batch's: rounds of half the measured time until the batcher's step rate settles
        long round = (long) (seconds / 2 * 1e9);
        warmUp(() -> {
            long s0 = batcher.steps(), r0 = System.nanoTime();
            java.util.concurrent.locks.LockSupport.parkNanos(round);
            return (batcher.steps() - s0) / ((System.nanoTime() - r0) / 1e9);
        });
        long batches0 = batcher.batches(), steps0 = batcher.steps();
        measuring.set(true);
        long t0 = System.nanoTime();
        Thread.sleep((long) (seconds * 1000));
        measuring.set(false);
        long elapsed = System.nanoTime() - t0;
        long batches = batcher.batches() - batches0, steps = batcher.steps() - steps0;
        stop.set(true);
        done.await();
        for (Thread t : started) t.join();
        long total = Arrays.stream(tokens).sum();
        return row("sessions", threads, total / (elapsed / 1e9), Latencies.merge(nanos, recorded),
                batches > 0 ? (double) steps / batches : 0);
    }

    private static Row row(String kind, int streams, double tokensPerS, Latencies latencies, double meanBatch) {
        return new Row(kind, streams, tokensPerS, latencies.micros(0.50), latencies.micros(0.99), meanBatch);
    }
}
