package lstmlm.train;

import lstmlm.modelfile.AdaptiveSoftmax;

import lstmlm.data.BatchProducer;
import lstmlm.kernels.Bf16;
import lstmlm.kernels.Dropout;
import lstmlm.model.DropoutPlan;
import lstmlm.model.Engine;
import lstmlm.model.Precision;
import lstmlm.model.ProcessMemory;
import lstmlm.model.ProductPolicy;
import lstmlm.model.StepProfile;
import lstmlm.model.Window;
import lstmlm.modelfile.ModelShape;
import lstmlm.natives.Blas;
import lstmlm.natives.OneDnn;
import lstmlm.natives.ThreadPolicy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Training and evaluation speed against this machine's own GEMM peaks, all measured in one
 * process so the ratios hold: first a 2048³ sgemm (and in bf16 mode a 2048³ oneDNN bf16 GEMM), then
 * N training windows after a warm-up, then N forward-only windows after another. Each warm-up runs
 * max(10, N/4) windows and at least 5 s.
 *
 * <p>FLOPs per token follow the roofline's definition: forward = 2·L·(2H)·(4H) + 2·H·V (the
 * LSTM and softmax multiply-adds; an adaptive softmax's as {@link #forwardFlopsPerToken} counts them),
 * training = 3 × forward. The cell, softmax and update passes
 * are not counted; they are what the engine must hide.
 */
public final class TrainingBenchmark {

    /**
     * Fractions are of the sgemm peak ({@code peakGflops}); in bf16 mode {@code bf16PeakGflops} is
     * the 2048³ bf16 GEMM's and the {@code *OfBf16Peak} fractions are of it (NaN in fp32 mode).
     * {@code gemmPrecision} is what the GEMMs ran in: fp32 for a bf16 config on a CPU without native
     * bf16, as training runs it there ({@link ProductPolicy#gemmPrecision}); {@code stepPrecision}
     * what the per-step recurrent products ran in ({@link Engine#stepPrecision}).
     */
    public record Result(String config, Precision precision, Precision gemmPrecision, Precision stepPrecision, int threads, String blasCore, double peakGflops,
                         double bf16PeakGflops, double trainWps, double trainGflops,
                         double evalWps, double evalGflops, double gemmShare,
                         Map<StepProfile.Part, Double> millisPerWindow,
                         Map<StepProfile.Part, Double> evalMillisPerWindow, double peakRssMb,
                         int ranks, long allreduceBytes, double trainMillisPerWindow) {

        /** Data-parallel: the share of a training window's time spent summing gradients over the ranks. */
        public double allreduceShare() {
            return millisPerWindow.getOrDefault(StepProfile.Part.ALLREDUCE, 0.0) / trainMillisPerWindow;
        }

        public double trainFraction() {
            return trainGflops / peakGflops;
        }

        public double evalFraction() {
            return evalGflops / peakGflops;
        }

        public double trainFractionOfBf16Peak() {
            return trainGflops / bf16PeakGflops;
        }

        public double evalFractionOfBf16Peak() {
            return evalGflops / bf16PeakGflops;
        }

        public Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("config", config);
            m.put("precision", precision.key());
            m.put("gemm_precision", gemmPrecision.key());
            m.put("step_gemm_precision", stepPrecision.key());
            m.put("threads", threads);
            m.put("blas_core", blasCore);
            m.put("peak_gflops", round(peakGflops, 1));
            if (precision == Precision.BF16) m.put("bf16_peak_gflops", round(bf16PeakGflops, 1));
            m.put("train_wps", round(trainWps, 0));
            m.put("train_gflops", round(trainGflops, 1));
            m.put("train_fraction", round(trainFraction(), 3));
            if (gemmPrecision == Precision.BF16) m.put("train_fraction_of_bf16_peak", round(trainFractionOfBf16Peak(), 3));
            m.put("eval_wps", round(evalWps, 0));
            m.put("eval_fraction", round(evalFraction(), 3));
            if (gemmPrecision == Precision.BF16) m.put("eval_fraction_of_bf16_peak", round(evalFractionOfBf16Peak(), 3));
            m.put("gemm_share", round(gemmShare, 3));
            m.put("peak_rss_mb", round(peakRssMb, 0));
            if (ranks > 1) {
                m.put("ranks", ranks);
                m.put("allreduce_bytes", allreduceBytes);
                m.put("allreduce_ms_per_window", round(millisPerWindow.getOrDefault(StepProfile.Part.ALLREDUCE, 0.0), 2));
                m.put("train_ms_per_window", round(trainMillisPerWindow, 2));
                m.put("allreduce_share", round(allreduceShare(), 3));
            }
            return m;
        }

        private static double round(double v, int digits) {
            double s = Math.pow(10, digits);
            return Math.round(v * s) / s;
        }
    }

    /** The least time each warm-up (training, then evaluation) runs. */
    static final long WARMUP_NANOS = 5_000_000_000L;

    /**
     * Forward multiply-adds per token, ×2 for FLOPs. With an adaptive softmax the output layer is the
     * head (2·H·N) for every token plus, for cluster i, its projection and logits (2·H·Dᵢ + 2·Dᵢ·Sᵢ) for
     * the share of tokens whose target falls in it: measured on {@code ids} (the text trained on), or
     * Sᵢ/V for uniformly random ids (null).
     */
    public static double forwardFlopsPerToken(Config c, int[] ids) {
        double h = c.hiddenSize();
        double lstm = 2.0 * c.numLayers() * (2 * h) * (4 * h);
        AdaptiveSoftmax a = c.adaptive();
        if (a == null) return lstm + 2.0 * h * c.vocabSize();
        long[] counts = new long[a.clusters() + 1];
        if (ids != null) for (int id : ids) counts[a.clusterOf(id) + 1]++;
        double out = 2.0 * h * a.headSize();
        for (int i = 0; i < a.clusters(); i++) {
            int d = a.projection(i, c.hiddenSize()), size = a.size(i, c.vocabSize());
            double share = ids != null && ids.length > 0 ? (double) counts[i + 1] / ids.length : (double) size / c.vocabSize();
            out += share * (2.0 * h * d + 2.0 * d * size);
        }
        return lstm + out;
    }

    /** The side of the square GEMMs the peaks are measured on. */
    private static final int PEAK_N = 2048;

    /** GFLOP/s of one 2048³ sgemm on the current OpenBLAS threads (best of a few). */
    public static double measurePeakGflops() {
        int n = PEAK_N;
        try (Arena arena = Arena.ofConfined()) {
            long bytes = (long) n * n * Float.BYTES;
            MemorySegment a = arena.allocate(bytes, 64), b = arena.allocate(bytes, 64), c = arena.allocate(bytes, 64);
            SplittableRandom r = new SplittableRandom(1);
            for (long i = 0; i < (long) n * n; i++) {
                a.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble());
                b.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble());
            }
            return peakGflops(() -> Blas.sgemm(false, false, n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n));
        }
    }

    /**
     * GFLOP/s of one 2048³ oneDNN bf16 GEMM (bf16 inputs, fp32 output) on the calling thread's OpenMP
     * team (best of a few).
     */
    public static double measureBf16PeakGflops() {
        int n = PEAK_N;
        try (Arena arena = Arena.ofConfined()) {
            long elements = (long) n * n;
            MemorySegment a = arena.allocate(elements * 2, 64), b = arena.allocate(elements * 2, 64);
            MemorySegment c = arena.allocate(elements * Float.BYTES, 64);
            SplittableRandom r = new SplittableRandom(1);
            for (long i = 0; i < elements; i++) {
                a.setAtIndex(Bf16.BF16, i, Bf16.fromFloat((float) r.nextDouble()));
                b.setAtIndex(Bf16.BF16, i, Bf16.fromFloat((float) r.nextDouble()));
            }
            return peakGflops(() -> OneDnn.gemmBf16(false, false, n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n));
        }
    }

    /**
     * The rate of the fastest of a few runs of one 2048³ GEMM after a first one. When the first takes
     * over 2 s (oneDNN's reference code on a CPU without AVX-512) its rate is the answer: more runs
     * would add minutes.
     */
    private static double peakGflops(Runnable gemm) {
        long first = System.nanoTime();
        gemm.run();
        double best = (System.nanoTime() - first) / 1e9;
        if (best <= 2) {
            best = Double.MAX_VALUE;
            for (int rep = 0; rep < 5; rep++) {
                long t0 = System.nanoTime();
                gemm.run();
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
        }
        return 2.0 * PEAK_N * PEAK_N * PEAK_N / best / 1e9;
    }

    /**
     * @param trainIds the ids to train on (real text), or null for uniformly random ids
     */
    public static Result run(Config config, int threads, int steps, int[] trainIds, long seed) {
        return run(config, threads, steps, trainIds, seed, lstmlm.natives.Communicator.SINGLE);
    }

    /**
     * The same, data-parallel over the ranks of {@code comm}: each rank trains its rows of every window
     * and the gradients are summed ({@link Engine#update(float, float, float, lstmlm.natives.Communicator)});
     * words/s count the whole global batch. The ranks run fixed window counts (a time-based warm-up
     * could differ between them and leave one waiting in a collective): twice the usual warm-up.
     */
    public static Result run(Config config, int threads, int steps, int[] trainIds, long seed, lstmlm.natives.Communicator comm) {
        ModelShape shape = config.shape();
        int batch = config.batchSize(), numSteps = config.numSteps();
        int[] ids = trainIds;
        if (ids == null) {
            SplittableRandom r = new SplittableRandom(seed);
            ids = new int[(steps * 2 + 2) * batch * numSteps + batch];
            for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(config.vocabSize());
        }
        BatchProducer producer = new BatchProducer(ids, batch, numSteps);
        boolean distributed = comm.size() > 1;
        int warmup = distributed ? Math.max(20, steps / 2) : Math.max(10, steps / 4);
        long warmupNanos = distributed ? 0 : WARMUP_NANOS;
        int first = comm.rank() * batch / comm.size(), rows = (comm.rank() + 1) * batch / comm.size() - first;
        // and at least WARMUP_NANOS: 25 small windows take 1.3 s, and C2 was still compiling the
        // few-row kernel four seconds later (-XX:+PrintCompilation), inside the measured windows
        float lr = (float) config.learningRate(), maxNorm = (float) config.maxGradNorm(), decay = (float) config.weightDecay();
        DropoutPlan dropouts = config.dropouts();
        StepProfile profile = StepProfile.on();
        try (Engine engine = new Engine(shape, threads, ProductPolicy.gemmPrecision(config.precision()), profile)) {
            double peak = measurePeakGflops();
            double bf16Peak = Double.NaN;
            if (config.precision() == Precision.BF16) {
                ThreadPolicy.useOpenMpThreads(threads); // the engine did when it runs bf16; not when it fell back to fp32
                bf16Peak = measureBf16PeakGflops();
            }
            Window w = distributed ? engine.newWindow(first, rows, batch, numSteps, dropouts) : engine.newWindow(batch, numSteps, dropouts);
            engine.model().initialize(seed, (float) config.initScale());
            w.resetState();
            int epochSize = producer.epochSize();
            IntConsumer train = at -> {
                producer.window(at % epochSize, first, rows, w.inputs, w.targets);
                engine.trainStep(w, dropouts, Dropout.splitSeed(seed, at), lr, maxNorm, decay, comm);
            };
            IntConsumer eval = at -> {
                producer.window(at % epochSize, first, rows, w.inputs, w.targets);
                engine.evalWindow(w);
            };
            int at = run(train, 0, warmup, warmupNanos);
            profile.reset();
            long t0 = System.nanoTime();
            at = run(train, at, steps, 0);
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            long gemmNanos = profile.nanos(StepProfile.Part.GEMM_WINDOW) + profile.nanos(StepProfile.Part.GEMM_STEP);
            double gemmShare = gemmNanos / (trainSeconds * 1e9);
            Map<StepProfile.Part, Double> millis = profile.millisPerWindow(steps);

            at = run(eval, at, warmup, warmupNanos);
            profile.reset();
            long t1 = System.nanoTime();
            run(eval, at, steps, 0);
            double evalSeconds = (System.nanoTime() - t1) / 1e9;
            Map<StepProfile.Part, Double> evalMillis = profile.millisPerWindow(steps);

            double tokens = (double) steps * batch * numSteps;
            double fwd = forwardFlopsPerToken(config, trainIds);
            double trainWps = tokens / trainSeconds, evalWps = tokens / evalSeconds;
            double trainGflops = trainWps * 3 * fwd / 1e9;
            return new Result(config.name(), config.precision(), engine.precision(), engine.stepPrecision(), threads, Blas.coreName(), peak, bf16Peak, trainWps,
                    trainGflops, evalWps, evalWps * fwd / 1e9, gemmShare, millis, evalMillis, peakRssMb(),
                    comm.size(), engine.model().layout.size * Float.BYTES, trainSeconds * 1e3 / steps);
        }
    }

    /** Runs windows at, at+1, ... until at least {@code windows} ran and {@code minNanos} passed; returns the next. */
    private static int run(IntConsumer window, int at, int windows, long minNanos) {
        long start = System.nanoTime();
        for (int i = 0; i < windows || System.nanoTime() - start < minNanos; i++) window.accept(at++);
        return at;
    }

    /** The most resident memory this process has had (VmHWM), in MB. */
    public static double peakRssMb() {
        return ProcessMemory.now().peakResidentBytes() / (1024.0 * 1024.0);
    }
}
