package lstmlm.infer;

import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.model.ProcessMemory;
import lstmlm.natives.ThreadPolicy;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Per-token latency against what the memory system allows, in one process: first the single-thread
 * streaming read bandwidth over a buffer the size of the model, then the latency of one streaming
 * step (feed a word, write the full next-word distribution) and the throughput of batch scoring.
 *
 * <p>The bound is the time to read, once, the bytes a step must read ({@link Model#bytesReadPerToken}:
 * every LSTM and softmax weight plus one embedding row) at the measured bandwidth. Each measured
 * operation is its own method ({@link #streamOnce}, {@link #stepOnce}, {@link #scoreBatchOnce}) so a
 * JMH harness can call them directly; {@link #run} is the self-timed version the CLI prints.
 */
public final class LatencyBenchmark implements AutoCloseable {
    /** Sentences per batch and words per sentence for the batch-scoring measurement. */
    public static final int BATCH = 64, SENTENCE_WORDS = 20;

    /**
     * @param loadReservedMb address space {@link Model#load} reserved (VmSize before and after): the
     *                       mapping of the file and whatever the model copies; NaN when not measured
     * @param loadResidentMb memory it made resident (VmRSS): it faults the mapped weights in
     */
    public record Result(double modelMb, double weightsReadMb, double bandwidthGbs, double p50Us, double p99Us,
                         double boundUs, double ratioToBound, double batchTokensPerS, int tokens,
                         boolean softmaxTransposed, double loadReservedMb, double loadResidentMb,
                         double scoreP50Us, double scoreP99Us, int stepThreads) {
        public String toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model_mb", modelMb);
            o.put("weights_read_mb", weightsReadMb);
            o.put("bandwidth_gbs", bandwidthGbs);
            o.put("p50_us", p50Us);
            o.put("p99_us", p99Us);
            o.put("bound_us", boundUs);
            o.put("ratio_to_bound", ratioToBound);
            o.put("batch_tokens_per_s", batchTokensPerS);
            o.put("tokens", tokens);
            o.put("softmax_transposed", softmaxTransposed);
            o.put("score_p50_us", scoreP50Us);
            o.put("score_p99_us", scoreP99Us);
            o.put("step_threads", stepThreads);
            if (Double.isFinite(loadReservedMb)) {
                o.put("load_reserved_mb", loadReservedMb);
                o.put("load_resident_mb", loadResidentMb);
                o.put("load_reserved_per_model_byte", loadReservedMb / modelMb);
            }
            return o.toString();
        }

        public String toText() {
            return String.format("""
                    model: %.1f MB (%.1f MB read per token)
                    single-thread streaming bandwidth: %.2f GB/s
                    per-token latency (feed + full distribution, %d tokens, steps on %d threads): p50 %.1f us, p99 %.1f us
                    per-token latency (feed + the next word's log-probability, scoring): p50 %.1f us, p99 %.1f us
                    bandwidth bound: %.1f us, p50 / bound = %.2f
                    batch scoring: %.0f tokens/s
                    Model.load reserved %.1f MB (%.3f x the model's tensor bytes), %.1f MB resident""",
                    modelMb, weightsReadMb, bandwidthGbs, tokens, stepThreads, p50Us, p99Us, scoreP50Us, scoreP99Us, boundUs, ratioToBound,
                    batchTokensPerS,
                    loadReservedMb, loadReservedMb / modelMb, loadResidentMb);
        }
    }

    private final Model model;
    private final int stepThreads;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment stream;
    private final Session session;
    private final float[] distribution;
    private final int[] tokenIds;
    private int nextToken;
    private final BatchScorer scorer;
    private final int[][] sentences;

    public LatencyBenchmark(Model model, long seed) {
        this(model, seed, null);
    }

    /** {@code stepThreads}: the session's steps split over these threads (null: on the calling thread alone). */
    public LatencyBenchmark(Model model, long seed, StepThreads stepThreads) {
        this.model = model;
        this.stepThreads = stepThreads == null ? 1 : stepThreads.threads();
        SplittableRandom random = new SplittableRandom(seed);
        this.stream = arena.allocate(model.fileBytes(), 64);
        for (long i = 0; i < stream.byteSize() / 4; i++) {
            stream.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) random.nextDouble());
        }
        this.session = stepThreads == null ? model.newSession() : model.newSession(stepThreads);
        this.distribution = new float[model.vocabularySize()];
        this.tokenIds = random.ints(1 << 16, 0, model.vocabularySize()).toArray();
        this.scorer = model.newBatchScorer(BATCH);
        this.sentences = new int[BATCH][];
        for (int s = 0; s < BATCH; s++) sentences[s] = random.ints(SENTENCE_WORDS, 0, model.vocabularySize()).toArray();
    }

    /** One streaming read of a model-sized buffer; returns the sum so the read cannot be elided. */
    public float streamOnce() {
        return ProcessMemory.streamingRead(stream, stream.byteSize());
    }

    /** One streaming step: feed the next word and write the full next-word distribution. */
    public float stepOnce() {
        session.feed(tokenIds[nextToken]);
        nextToken = (nextToken + 1) & (tokenIds.length - 1);
        session.probabilities(distribution);
        return distribution[0];
    }

    /**
     * One scoring step: feed the next word and take the log-probability of the word after it, what a
     * rescorer does per token (an adaptive softmax computes its head and that word's cluster only).
     */
    public float scoreOnce() {
        session.feed(tokenIds[nextToken]);
        nextToken = (nextToken + 1) & (tokenIds.length - 1);
        return session.logProbability(tokenIds[nextToken]);
    }

    /** Scores one batch of {@link #BATCH} sentences; each is {@link #SENTENCE_WORDS} + 1 tokens. */
    public double scoreBatchOnce() {
        double sum = 0;
        for (SentenceScore s : scorer.scoreIds(sentences)) sum += s.logProbability();
        return sum;
    }

    public int tokensPerBatch() {
        return BATCH * (SENTENCE_WORDS + 1);
    }

    /** Best of repeated streaming reads (at least {@code minReads} and about 0.3 s), in bytes per second. */
    public double measureBandwidth(int minReads) {
        float sink = 0;
        for (int i = 0; i < 3; i++) sink += streamOnce(); // warm the JIT and the pages
        long best = Long.MAX_VALUE, start = System.nanoTime();
        for (int i = 0; i < minReads || System.nanoTime() - start < 300_000_000L; i++) {
            long t0 = System.nanoTime();
            sink += streamOnce();
            best = Math.min(best, System.nanoTime() - t0);
        }
        if (sink == 42.4242f) System.out.print(""); // keep the sums alive
        return stream.byteSize() / (best / 1e9);
    }

    /** Per-step latencies in nanoseconds, after {@code warmup} unmeasured steps. */
    public long[] measureSteps(int warmup, int tokens) {
        return measure(warmup, tokens, this::stepOnce);
    }

    /** Per-token scoring latencies in nanoseconds, after {@code warmup} unmeasured steps. */
    public long[] measureScoring(int warmup, int tokens) {
        return measure(warmup, tokens, this::scoreOnce);
    }

    private interface Step {
        float run();
    }

    private static long[] measure(int warmup, int tokens, Step step) {
        float sink = 0;
        for (int i = 0; i < warmup; i++) sink += step.run();
        long[] nanos = new long[tokens];
        for (int i = 0; i < tokens; i++) {
            long t0 = System.nanoTime();
            sink += step.run();
            nanos[i] = System.nanoTime() - t0;
        }
        if (sink == 42.4242f) System.out.print(""); // keep the results alive
        return nanos;
    }

    /**
     * Batch-scoring throughput in tokens per second (best of a few batches after one warm-up), with
     * OpenBLAS on one thread like everything else measured here (restored afterwards; see
     * docs/performance.md).
     */
    public double measureBatchThroughput(int batches) {
        int threads = ThreadPolicy.blasThreads();
        ThreadPolicy.useBlasThreads(1);
        try {
            return batchThroughput(batches);
        } finally {
            ThreadPolicy.useBlasThreads(threads);
        }
    }

    private double batchThroughput(int batches) {
        scoreBatchOnce();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < batches; i++) {
            long t0 = System.nanoTime();
            scoreBatchOnce();
            best = Math.min(best, System.nanoTime() - t0);
        }
        return tokensPerBatch() / (best / 1e9);
    }

    /** The whole measurement: bandwidth, then step latency, then batch throughput (no load footprint). */
    public Result run(int warmupTokens, int tokens) {
        return run(warmupTokens, tokens, null);
    }

    private Result run(int warmupTokens, int tokens, ProcessMemory load) {
        if (tokens < 1) throw new IllegalArgumentException("need at least one measured token, got " + tokens);
        double bandwidth = measureBandwidth(10);
        long[] nanos = measureSteps(warmupTokens, tokens);
        Latencies latencies = new Latencies(nanos, nanos.length);
        double p50 = latencies.micros(0.50), p99 = latencies.micros(0.99);
        long[] scoring = measureScoring(warmupTokens, tokens);
        Latencies scored = new Latencies(scoring, scoring.length);
        double bound = model.bytesReadPerToken() / bandwidth * 1e6;
        double throughput = measureBatchThroughput(3);
        return new Result(model.fileBytes() / 1e6, model.bytesReadPerToken() / 1e6, bandwidth / 1e9, p50, p99,
                bound, p50 / bound, throughput, tokens, model.softmaxTransposed(),
                load != null ? load.reservedBytes() / 1e6 : Double.NaN, load != null ? load.residentBytes() / 1e6 : Double.NaN,
                scored.micros(0.50), scored.micros(0.99), stepThreads);
    }

    /**
     * What the CLI runs: loads {@code file} (measuring what {@link Model#load} reserves and makes
     * resident), then {@link #run} with 2000 warm-up and 2000 measured tokens, the session's steps on
     * {@code stepThreads} threads ({@link StepThreads}; 1: the calling thread alone).
     */
    public static Result run(Path file, int stepThreads) {
        ProcessMemory before = ProcessMemory.now();
        try (Model model = Model.load(file)) {
            ProcessMemory load = ProcessMemory.now().since(before);
            try (StepThreads threads = new StepThreads(stepThreads);
                 LatencyBenchmark b = new LatencyBenchmark(model, 1, stepThreads > 1 ? threads : null)) {
                return b.run(2000, 2000, load);
            }
        }
    }

    @Override
    public void close() {
        session.close();
        scorer.close();
        arena.close();
    }
}
