package lstmlm.bench;

import lstmlm.infer.DynamicBatcher;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.infer.StepBatch;
import lstmlm.natives.ThreadPolicy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Many streams: one batched step of {@code rows} streams (feed a word each, then each row's
 * log-probability of a word), sampled for percentiles; tokens/s = rows / time per step. And one
 * session's feed + log-probability through a shared {@link DynamicBatcher}: run it with
 * {@code -t C} for C threads each stepping its own session (tokens/s = C / time per op).
 * Both in {@code -p format=fp32,bf16,int8}; {@code -p model=FILE} for a trained model; OpenBLAS on
 * {@code -p blasThreads=N} threads (default every core).
 */
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class BatchStepBench {
    /** The model, shared by the threads of a trial. */
    @State(Scope.Benchmark)
    public static class Loaded {
        @Param({"small", "medium"})
        String config;

        @Param({""})
        String model;

        @Param({"fp32", "int8"})
        String format;

        @Param({"64"})
        int maxBatch;

        @Param({"200"})
        long maxWaitMicros;

        /** OpenBLAS threads for the batched GEMMs; 0: every core. */
        @Param({"0"})
        int blasThreads;

        Path tempDir;
        Model loaded;
        DynamicBatcher batcher;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            ThreadPolicy.useBlasThreads(blasThreads > 0 ? blasThreads : Runtime.getRuntime().availableProcessors());
            tempDir = Files.createTempDirectory("lstm-bench");
            loaded = Model.load(BenchModels.write(tempDir, config, model, format));
            batcher = new DynamicBatcher(loaded, maxBatch, maxWaitMicros);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            batcher.close();
            loaded.close();
            BenchModels.delete(tempDir);
        }
    }

    /** A batch of {@code rows} streams, one per thread. */
    @State(Scope.Thread)
    public static class Batch {
        @Param({"1", "4", "16", "64", "256"})
        int rows;

        StepBatch batch;
        int[] words, ids;
        int cursor;

        @Setup(Level.Trial)
        public void setUp(Loaded m) {
            batch = m.loaded.newStepBatch(rows);
            batch.start(rows);
            words = new SplittableRandom(1).ints(1 << 12, 0, m.loaded.vocabularySize()).toArray();
            ids = new int[rows];
        }
    }

    /** A thread's own session of the shared batcher. */
    @State(Scope.Thread)
    public static class OwnSession {
        Session session;
        SplittableRandom random;
        int vocab;

        @Setup(Level.Trial)
        public void setUp(Loaded m) {
            session = m.batcher.newSession();
            random = new SplittableRandom(Thread.currentThread().threadId());
            vocab = m.loaded.vocabularySize();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            session.close();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float batchedStep(Batch b) {
        int n = b.rows;
        for (int r = 0; r < n; r++) b.ids[r] = b.words[b.cursor++ & (b.words.length - 1)];
        b.batch.step(b.ids);
        float sum = 0;
        for (int r = 0; r < n; r++) sum += b.batch.logProbability(r, b.words[b.cursor++ & (b.words.length - 1)]);
        return sum;
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float sessionThroughBatcher(OwnSession s) {
        s.session.feed(s.random.nextInt(s.vocab));
        return s.session.logProbability(s.random.nextInt(s.vocab));
    }
}
