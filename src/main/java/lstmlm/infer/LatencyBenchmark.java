package lstmlm.infer;

import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.model.ProcessMemory;
import lstmlm.model.Yardsticks;
import lstmlm.natives.ThreadPolicy;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Per-token latency against what one thread's memory system and arithmetic allow, in one process:
 * first the {@link Bound} (streaming reads and a fused multiply-add peak), then the latency of one
 * streaming step (feed a word, write the full next-word distribution), of one scoring step, and the
 * throughput of batch scoring.
 *
 * <p>Each measured operation is its own method ({@link #streamOnce}, {@link #stepOnce},
 * {@link #scoreBatchOnce}) so a JMH harness can call them directly; {@link #run} is the self-timed
 * version the CLI prints.
 */
public final class LatencyBenchmark implements AutoCloseable {
    /** Sentences per batch and words per sentence for the batch-scoring measurement. */
    public static final int BATCH = 64, SENTENCE_WORDS = 20;

    /**
     * @param loadReservedMb address space {@link Model#load} reserved (VmSize before and after): the
     *                       mapping of the file and whatever the model copies; NaN when not measured
     * @param loadResidentMb memory it made resident (VmRSS): it faults the mapped weights in
     */
    /**
     * How fast one thread could make a step, from what it must read and compute, each measured here: the
     * larger of the bytes a step reads ({@link Model#bytesReadPerToken}: every LSTM and output weight,
     * one embedding row) at {@code bandwidthGbs} and its arithmetic ({@link Model#flopsPerToken}) at
     * {@code fmaGflops} ({@link Yardsticks}). Between steps nothing else runs, so weights that fit in the last-level cache
     * stay there: {@code bandwidthGbs} streams a buffer of exactly the step's bytes, again and again,
     * which is the cache's bandwidth when they fit and memory's when they do not; {@code
     * memoryBandwidthGbs}, over a buffer far past the cache, says which it was. Where the weights fit,
     * the arithmetic is often the larger bound ({@code kind}).
     *
     * @param llcMb the last-level cache ({@link Yardsticks#lastLevelCacheBytes}; 0: unknown)
     */
    public record Bound(double weightsReadMb, double bandwidthGbs, double memoryBandwidthGbs, double llcMb,
                        double mflopsPerToken, double fmaGflops) {
        public double bandwidthUs() {
            return weightsReadMb / bandwidthGbs * 1e3;
        }

        public double computeUs() {
            return mflopsPerToken / fmaGflops * 1e3;
        }

        public double us() {
            return Math.max(bandwidthUs(), computeUs());
        }

        public boolean weightsFitLlc() {
            return llcMb > 0 && weightsReadMb <= llcMb;
        }

        /** Which limit is the larger: "compute", "cache bandwidth" or "memory bandwidth". */
        public String kind() {
            return computeUs() >= bandwidthUs() ? "compute" : weightsFitLlc() ? "cache bandwidth" : "memory bandwidth";
        }
    }

    public record Result(double modelMb, Bound bound, double p50Us, double p99Us, double batchTokensPerS, int tokens,
                         boolean softmaxTransposed, double loadReservedMb, double loadResidentMb,
                         double scoreP50Us, double scoreP99Us, int stepThreads) {
        public String toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model_mb", modelMb);
            o.put("weights_read_mb", bound.weightsReadMb());
            o.put("bandwidth_gbs", bound.bandwidthGbs());
            o.put("memory_bandwidth_gbs", bound.memoryBandwidthGbs());
            o.put("llc_mb", bound.llcMb());
            o.put("weights_fit_llc", bound.weightsFitLlc());
            o.put("mflops_per_token", bound.mflopsPerToken());
            o.put("fma_gflops", bound.fmaGflops());
            o.put("p50_us", p50Us);
            o.put("p99_us", p99Us);
            o.put("bandwidth_bound_us", bound.bandwidthUs());
            o.put("compute_bound_us", bound.computeUs());
            o.put("bound_us", bound.us());
            o.put("bound_kind", bound.kind());
            o.put("ratio_to_bound", ratioToBound());
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

        /** p50 over the bound: 1 is as fast as one thread can be; with steps on several threads it can go below. */
        public double ratioToBound() {
            return p50Us / bound.us();
        }

        public String toText() {
            return String.format("""
                    model: %.1f MB (%.1f MB read and %.2f MFLOP per token; last-level cache %.1f MB)
                    one thread: streaming %.2f GB/s over the step's bytes, %.2f GB/s from memory; %.1f GFLOP/s fused multiply-add
                    per-token latency (feed + full distribution, %d tokens, steps on %d threads): p50 %.1f us, p99 %.1f us
                    per-token latency (feed + the next word's log-probability, scoring): p50 %.1f us, p99 %.1f us
                    one thread's bound: %.1f us (%s; bandwidth %.1f us, arithmetic %.1f us), p50 / bound = %.2f
                    batch scoring: %.0f tokens/s
                    Model.load reserved %.1f MB (%.3f x the model's tensor bytes), %.1f MB resident""",
                    modelMb, bound.weightsReadMb(), bound.mflopsPerToken(), bound.llcMb(), bound.bandwidthGbs(),
                    bound.memoryBandwidthGbs(), bound.fmaGflops(), tokens, stepThreads, p50Us, p99Us, scoreP50Us, scoreP99Us,
                    bound.us(), bound.kind(), bound.bandwidthUs(), bound.computeUs(), ratioToBound(), batchTokensPerS,
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
        this.stream = randomFloats(arena, model.bytesReadPerToken(), random);
        this.session = stepThreads == null ? model.newSession() : model.newSession(stepThreads);
        this.distribution = new float[model.vocabularySize()];
        this.tokenIds = random.ints(1 << 16, 0, model.vocabularySize()).toArray();
        this.scorer = model.newBatchScorer(BATCH);
        this.sentences = new int[BATCH][];
        for (int s = 0; s < BATCH; s++) sentences[s] = random.ints(SENTENCE_WORDS, 0, model.vocabularySize()).toArray();
    }

    private static MemorySegment randomFloats(Arena arena, long bytes, SplittableRandom random) {
        MemorySegment m = arena.allocate((bytes + 63) / 64 * 64, 64);
        for (long i = 0; i < m.byteSize() / 4; i++) m.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) random.nextDouble());
        return m;
    }

    /** One streaming read of a buffer the size of the bytes a step reads; returns the sum so the read cannot be elided. */
    public float streamOnce() {
        return Yardsticks.streamingRead(stream, stream.byteSize());
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

    /** Best of repeated streaming reads of the step-sized buffer (at least {@code minReads} and about 0.3 s), in bytes per second. */
    public double measureBandwidth(int minReads) {
        return bestStreamingRead(stream, minReads);
    }

    private static double bestStreamingRead(MemorySegment buffer, int minReads) {
        float sink = 0;
        for (int i = 0; i < 3; i++) sink += Yardsticks.streamingRead(buffer, buffer.byteSize()); // warm the JIT and the pages
        long best = Long.MAX_VALUE, start = System.nanoTime();
        for (int i = 0; i < minReads || System.nanoTime() - start < 300_000_000L; i++) {
            long t0 = System.nanoTime();
            sink += Yardsticks.streamingRead(buffer, buffer.byteSize());
            best = Math.min(best, System.nanoTime() - t0);
        }
        if (sink == 42.4242f) System.out.print(""); // keep the sums alive
        return buffer.byteSize() / (best / 1e9);
    }

    /**
     * The bound's measurements: the step-sized buffer's bandwidth, memory's over a buffer of four times
     * the last-level cache (at least 64 MB, and twice the step's bytes), and one thread's FMA peak.
     */
    public Bound measureBound() {
        double cached = measureBandwidth(10);
        long llc = Yardsticks.lastLevelCacheBytes();
        long big = Math.max(Math.max(4 * llc, 64L << 20), 2 * model.bytesReadPerToken());
        double memory;
        try (Arena a = Arena.ofConfined()) {
            memory = bestStreamingRead(randomFloats(a, big, new SplittableRandom(1)), 3);
        }
        return new Bound(model.bytesReadPerToken() / 1e6, cached / 1e9, memory / 1e9, llc / 1e6,
                model.flopsPerToken() / 1e6, Yardsticks.fmaFlopsPerSecond() / 1e9);
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
     * the GEMMs on one thread like everything else measured here: OpenBLAS's, and this thread's
     * oneDNN team (both restored afterwards; see docs/performance.md). The model keeps packed weights
     * for that one-thread team beside any others.
     */
    public double measureBatchThroughput(int batches) {
        int threads = ThreadPolicy.blasThreads();
        int team = lstmlm.natives.OneDnn.available() ? ThreadPolicy.openMpThreads() : 0; // 0: no oneDNN to set
        ThreadPolicy.useBlasThreads(1);
        if (team > 0) ThreadPolicy.useOpenMpThreads(1);
        try {
            return batchThroughput(batches);
        } finally {
            ThreadPolicy.useBlasThreads(threads);
            if (team > 0) ThreadPolicy.useOpenMpThreads(team);
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
        Bound bound = measureBound();
        long[] nanos = measureSteps(warmupTokens, tokens);
        Latencies latencies = new Latencies(nanos, nanos.length);
        double p50 = latencies.micros(0.50), p99 = latencies.micros(0.99);
        long[] scoring = measureScoring(warmupTokens, tokens);
        Latencies scored = new Latencies(scoring, scoring.length);
        double throughput = measureBatchThroughput(3);
        return new Result(model.fileBytes() / 1e6, bound, p50, p99, throughput, tokens, model.softmaxTransposed(),
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
