package lstmlm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.data.Corpus;
import lstmlm.errors.UserException;
import lstmlm.infer.BatchBenchmark;
import lstmlm.infer.DynamicBatcher;
import lstmlm.infer.Model;
import lstmlm.serve.Limits;
import lstmlm.serve.LoadGenerator;
import lstmlm.serve.Server;
import lstmlm.serve.Soak;
import lstmlm.model.Precision;
import lstmlm.model.StepProfile;
import lstmlm.natives.ThreadPolicy;
import lstmlm.train.Config;
import lstmlm.train.TrainingBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure training and evaluation speed against this machine's sgemm peak, in one process.",
                "For honest numbers on AVX-512 machines run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset."})
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--config", defaultValue = "small", paramLabel = "NAME|FILE",
            description = "Model and batch shape (default: ${DEFAULT-VALUE}).")
    String config;

    @Option(names = "--steps", defaultValue = "100", paramLabel = "N",
            description = "Timed windows, after a warm-up of max(10, N/4) (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--threads", paramLabel = "N", description = "Threads (default: all cores).")
    Integer threads;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a config key, e.g. --set softmax=adaptive --set adaptive_cutoffs=2000,10000.")
    Map<String, String> overrides = new java.util.LinkedHashMap<>();

    @Option(names = "--data-path", paramLabel = "DIR",
            description = "Train on the corpus in DIR (any layout train takes; the config's vocabulary limits) instead of random ids.")
    Path dataPath;

    @Option(names = "--distributed", description = "Data-parallel over the ranks mpirun started (mpirun -np N ./lstm bench"
            + " --distributed): each rank trains its rows of every window, gradients summed over the ranks; reports the"
            + " allreduce time per window. Rank 0 prints.")
    boolean distributed;

    @Option(names = "--json", description = "Print one JSON object instead of the report.")
    boolean json;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--precision", paramLabel = "fp32|bf16", defaultValue = "fp32",
            description = "Precision of the GEMMs (default: ${DEFAULT-VALUE}); bf16 also measures the 2048^3 bf16 GEMM peak.")
    String precision;

    @Option(names = "--latency", description = "Instead: per-token latency of a trained model (needs --model) against"
            + " the time to read its weights once at this machine's single-thread bandwidth, and batch-scoring speed.")
    boolean latency;

    @Option(names = "--model", paramLabel = "FILE", description = "The model for --latency (a .safetensors from train).")
    Path model;

    @Option(names = "--batch", split = ",", paramLabel = "N[,N...]",
            description = "With --latency, instead: N streams stepped together (a StepBatch), for each N: tokens/s and"
                    + " per-step p50/p99; each token is a feed and a log-probability. N = 1 is the single stream.")
    int[] batch;

    @Option(names = "--sessions", split = ",", paramLabel = "C[,C...]",
            description = "With --latency: C threads each stepping its own session through one dynamic batcher"
                    + " (--max-batch, --max-wait-us), for each C: tokens/s, per-feed p50/p99 and the mean batch.")
    int[] sessions;

    @Option(names = "--max-batch", defaultValue = "64", paramLabel = "N",
            description = "The dynamic batcher's largest batch (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-wait-us", defaultValue = "200", paramLabel = "US",
            description = "How long the batcher's oldest step waits for others, in microseconds (default: ${DEFAULT-VALUE}).")
    long maxWaitMicros;

    @Option(names = "--serve", split = ",", paramLabel = "C[,C...]",
            description = "With --latency: start the HTTP server on loopback (--max-batch, --max-wait-us, --max-queue) and"
                    + " drive it with C clients each sending /v1/next requests; for each C: tokens/s, request p50/p99, 503s.")
    int[] serveClients;

    @Option(names = "--soak", paramLabel = "SECONDS",
            description = "With --serve C: instead, a mixed load (next, score, generate, health, metrics) from C clients for"
                    + " SECONDS, answers sampled against the library; prints statuses, mismatches and resident memory.")
    Integer soakSeconds;

    @Option(names = "--max-queue", defaultValue = "256", paramLabel = "N", description = "The server's requests in flight for --serve (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--step-threads", defaultValue = "1", paramLabel = "N",
            description = "With --latency: the session's steps split over N threads (StepThreads; the results are the same bit for"
                    + " bit); with --batch, the rows' normalisers (default: ${DEFAULT-VALUE}: the calling thread alone).")
    int stepThreads;

    @Option(names = "--seconds", defaultValue = "2", paramLabel = "S",
            description = "Measured seconds per --batch or --sessions point, after a warm-up that lasts until its rate settles (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Override
    public Integer call() throws Exception {
        if (latency) return latency();
        if (model != null) throw new UserException("--model is for --latency; the training benchmark uses --config.");
        Map<String, String> keys = new java.util.LinkedHashMap<>(overrides);
        keys.put("precision", precision);
        Config cfg = Config.load(config, keys);
        Options.atLeast("--steps", steps, 1);
        int n = Options.threads(threads);
        int[] ids = null;
        if (dataPath != null) { // the corpus as training reads it: the config's vocabulary limits, its size
            Corpus corpus = Corpus.load(lstmlm.data.CorpusFiles.in(dataPath), cfg.vocabularyLimits());
            cfg = cfg.withVocabSize(corpus.vocabulary().size());
            ids = corpus.train();
        }
        cfg.shape(); // a config that does not fit its vocabulary is refused here, not mid-run
        TrainingBenchmark.Result r;
        if (distributed) {
            try (lstmlm.natives.Mpi mpi = lstmlm.natives.Mpi.init()) {
                r = TrainingBenchmark.run(cfg, n, steps, ids, seed, mpi);
                if (mpi.rank() != 0) return 0;
            }
        } else {
            r = TrainingBenchmark.run(cfg, n, steps, ids, seed);
        }
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(r.json()));
            return 0;
        }
        double fwd = TrainingBenchmark.forwardFlopsPerToken(cfg, ids);
        System.out.printf(Locale.ROOT, "OpenBLAS core %s, %d threads; %s data%n", r.blasCore(), r.threads(),
                dataPath != null ? "the corpus in " + dataPath : "random");
        System.out.printf(Locale.ROOT, "sgemm 2048^3 peak: %.1f GFLOP/s -> roofline %.0f train wps, %.0f eval wps%n",
                r.peakGflops(), r.peakGflops() * 1e9 / (3 * fwd), r.peakGflops() * 1e9 / fwd);
        if (r.precision() == Precision.BF16) {
            System.out.printf(Locale.ROOT, "bf16 GEMM 2048^3 peak (oneDNN): %.1f GFLOP/s (%.2fx sgemm)%n",
                    r.bf16PeakGflops(), r.bf16PeakGflops() / r.peakGflops());
        }
        if (r.gemmPrecision() != r.precision()) System.out.println(lstmlm.model.ProductPolicy.fallbackWarning());
        if (r.gemmPrecision() == Precision.BF16) {
            System.out.println("per-step recurrent products in " + r.stepPrecision().key());
            System.out.printf(Locale.ROOT, "train: %.0f wps, %.1f GFLOP/s, %.3f of the sgemm peak, %.3f of the bf16 peak%n",
                    r.trainWps(), r.trainGflops(), r.trainFraction(), r.trainFractionOfBf16Peak());
            System.out.printf(Locale.ROOT, "eval:  %.0f wps, %.3f of the sgemm peak, %.3f of the bf16 peak%n",
                    r.evalWps(), r.evalFraction(), r.evalFractionOfBf16Peak());
        } else {
            System.out.printf(Locale.ROOT, "train: %.0f wps, %.1f GFLOP/s, %.3f of peak%n",
                    r.trainWps(), r.trainGflops(), r.trainFraction());
            System.out.printf(Locale.ROOT, "eval:  %.0f wps, %.3f of peak%n", r.evalWps(), r.evalFraction());
        }
        System.out.println("where a training window's time went (ms): " + breakdown(r.millisPerWindow()));
        System.out.println("where an evaluation window's time went (ms): " + breakdown(r.evalMillisPerWindow()));
        System.out.printf(Locale.ROOT, "GEMM share of training time: %.1f %%; peak RSS %.0f MB%n",
                100 * r.gemmShare(), r.peakRssMb());
        if (r.ranks() > 1) {
            System.out.printf(Locale.ROOT, "data-parallel: %d ranks; allreduce of %.1f MB of gradients: %.2f ms of a %.2f ms window (%.1f %%)%n",
                    r.ranks(), r.allreduceBytes() / 1e6, r.millisPerWindow().getOrDefault(StepProfile.Part.ALLREDUCE, 0.0),
                    r.trainMillisPerWindow(), 100 * r.allreduceShare());
        }
        return 0;
    }

    private static String breakdown(Map<StepProfile.Part, Double> millis) {
        StringBuilder sb = new StringBuilder();
        for (var e : millis.entrySet()) {
            if (e.getValue() > 0) sb.append(String.format(Locale.ROOT, "%s %.2f  ", e.getKey().name().toLowerCase(Locale.ROOT), e.getValue()));
        }
        return sb.toString().trim();
    }

    /** The embedded-use benchmark: one thread, one session, feed + full distribution per token. */
    private int latency() throws InterruptedException {
        if (model == null) throw new UserException("--latency needs --model FILE (a model written by train --save-path).");
        if (batch != null || sessions != null || serveClients != null) return manyStreams();
        if (stepThreads < 1) throw new UserException("--step-threads must be at least 1, got " + stepThreads + ".");
        lstmlm.infer.LatencyBenchmark.Result r = lstmlm.infer.LatencyBenchmark.run(model, stepThreads);
        System.out.println(json ? r.toJson() : r.toText());
        return 0;
    }

    /**
     * --batch and --sessions: many streams' throughput and step latency, OpenBLAS and this thread's
     * oneDNN team on --threads threads (the batcher's own thread has OpenMP's default team).
     */
    private int manyStreams() throws InterruptedException {
        for (int n : batch != null ? batch : new int[0]) Options.atLeast("--batch", n, 1);
        for (int c : sessions != null ? sessions : new int[0]) Options.atLeast("--sessions", c, 1);
        Options.atLeast("--max-batch", maxBatch, 1);
        Options.atLeast("--step-threads", stepThreads, 1);
        if (maxWaitMicros < 0) throw new UserException("--max-wait-us must be at least 0, got " + maxWaitMicros);
        if (!(seconds > 0) || seconds > 600) throw new UserException("--seconds must be more than 0 and at most 600, got " + seconds);
        int n = Options.threads(threads);
        ThreadPolicy.useBlasThreads(n);
        ThreadPolicy.useOpenMpThreads(n);
        var rows = new java.util.ArrayList<BatchBenchmark.Row>();
        try (Model m = Model.load(model)) {
            Main.noteUnverifiedHeader(model, m.headerVerified());
            if (!json) {
                System.out.printf(Locale.ROOT, "%s (%s), GEMMs on %d threads, a batch's normalisers on %d; each token: feed +"
                        + " log-probability%n", model.getFileName(), m.weightFormat().name().toLowerCase(Locale.ROOT), n, stepThreads);
            }
            try (var normalisers = new lstmlm.infer.StepThreads(stepThreads)) {
                for (int b : batch != null ? batch : new int[0]) {
                    rows.add(BatchBenchmark.batch(m, b, seconds, seed, normalisers));
                    if (!json) System.out.println(rows.getLast().toText());
                }
            }
            for (int c : sessions != null ? sessions : new int[0]) {
                try (DynamicBatcher batcher = new DynamicBatcher(m, maxBatch, maxWaitMicros, (batchRows, nanos) -> {},
                        Options.batcherThread(n))) {
                    rows.add(BatchBenchmark.sessions(batcher, c, seconds, seed));
                }
                if (!json) System.out.println(rows.getLast().toText());
            }
            var served = new java.util.ArrayList<LoadGenerator.Result>();
            if (serveClients != null) {
                Options.atLeast("--max-queue", maxQueue, 1);
                try (Server server = Server.start(m, new Server.Options("127.0.0.1", 0, maxBatch, maxWaitMicros, maxQueue, Limits.DEFAULT, 5),
                        Options.batcherThread(n))) {
                    if (soakSeconds != null) {
                        Options.atLeast("--soak", soakSeconds, 1);
                        Soak.Result r = Soak.run(m, server.port(), serveClients[0], soakSeconds, seed, System.out::println);
                        System.out.println(r.toJson());
                        return 0;
                    }
                    for (int c : serveClients) {
                        Options.atLeast("--serve", c, 1);
                        served.add(LoadGenerator.run(m, server.port(), c, seconds, seed));
                        if (!json) System.out.println("serve    " + served.getLast().toText());
                    }
                } catch (java.io.IOException e) {
                    throw new UserException("Cannot start the server on loopback: " + e.getMessage());
                }
            }
            if (json) {
                var o = new ObjectMapper().createObjectNode();
                o.put("model", model.getFileName().toString());
                o.put("format", m.weightFormat().name().toLowerCase(Locale.ROOT));
                o.put("threads", n);
                o.put("max_batch", maxBatch);
                o.put("max_wait_us", maxWaitMicros);
                var a = o.putArray("rows");
                for (BatchBenchmark.Row r : rows) a.add(r.toJson());
                var sv = o.putArray("serve");
                for (LoadGenerator.Result r : served) sv.add(r.toJson());
                System.out.println(o);
            }
        }
        return 0;
    }
}
