package lstmlm.bench;

import lstmlm.infer.LatencyBenchmark;
import lstmlm.infer.Model;
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
import java.util.concurrent.TimeUnit;

/**
 * The embedded use: per-token latency of feed + full next-word distribution on the calling
 * thread (SampleTime, for percentiles), the streaming read of a buffer the size of what a step reads
 * (the bandwidth half of its bound; LatencyBenchmark.Bound), and batch scoring. Run with {@code -prof gc} to see bytes allocated per token (the steady
 * state must be 0). {@code -p model=FILE} uses a trained model; by default a random-weight model
 * of the config's shape is written to a temp file.
 */
@State(Scope.Thread)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class InferenceBench {
    @Param({"small", "medium"})
    String config;

    @Param({""})
    String model;

    /** The weights' format: the fp32 model, or a bf16 or int8 copy written by the quantizer. */
    @Param({"fp32", "bf16", "int8"})
    String format;

    Path tempDir;
    Model loaded;
    LatencyBenchmark ops;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        tempDir = Files.createTempDirectory("lstm-bench");
        loaded = Model.load(BenchModels.write(tempDir, config, model, format));
        ops = new LatencyBenchmark(loaded, 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        ops.close();
        loaded.close();
        BenchModels.delete(tempDir);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float feedAndFullDistribution() {
        return ops.stepOnce();
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float streamStepSizedBuffer() {
        return ops.streamOnce();
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public double scoreBatch() {
        return ops.scoreBatchOnce();
    }
}
