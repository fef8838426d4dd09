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
     * N rows stepped together for about {@code seconds} after a warm-up of as long, the rows'
     * normalisers split over {@code normalisers} (one thread: the caller's alone).
     */
    public static Row batch(Model model, int n, double seconds, long seed, StepThreads normalisers) {
        return batch(model, model.newStepBatch(n, normalisers), seconds, seed);
    }

    private static Row batch(Model model, StepBatch batch, double seconds, long seed) {
        int n = batch.capacity();
        int vocab = model.vocabularySize();
        SplittableRandom random = new SplittableRandom(seed);
        int[] words = random.ints(1 << 12, 0, vocab).toArray();
        int[] ids = new int[n];
        batch.start(n);
        long[] nanos = new long[1 << 16];
        int cursor = 0;
        float sink = 0;
        int recorded = 0;
        long steps = 0, measuredNanos = 0;
        for (int phase = 0; phase < 2; phase++) {
            long start = System.nanoTime(), end = start + (long) (seconds * 1e9);
            recorded = 0;
            steps = 0;
            long now = start;
            while (now < end || steps < 3) {
                for (int r = 0; r < n; r++) ids[r] = words[cursor++ & (words.length - 1)];
                long t0 = System.nanoTime();
                batch.step(ids);
                for (int r = 0; r < n; r++) sink += batch.logProbability(r, words[cursor++ & (words.length - 1)]);
                now = System.nanoTime();
                if (recorded < nanos.length) nanos[recorded++] = now - t0;
                steps++;
            }
            measuredNanos = now - start;
        }
        if (sink == 42.4242f) System.out.print(""); // keep the results alive
        return row("batch", n, steps * n / (measuredNanos / 1e9), new Latencies(nanos, recorded), n);
    }

    /**
     * {@code threads} threads, each stepping its own session of {@code batcher}, for about
     * {@code seconds} after a warm-up of as long.
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
        Thread.sleep((long) (seconds * 1000)); // warm-up
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
