package lstmlm.bench;

import lstmlm.kernels.Dropout;
import lstmlm.model.Engine;
import lstmlm.model.Window;
import lstmlm.modelfile.ModelShape;
import lstmlm.train.Config;
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

import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One whole training window (forward, backward, clip, SGD) per config on all cores, random ids.
 * Words per second = batch · num_steps / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class TrainStepBench {
    @Param({"small", "medium", "large"})
    String config;

    Config cfg;
    Engine engine;
    Window window;
    long step;

    @Setup(Level.Trial)
    public void setUp() {
        cfg = Config.load(config, Map.of());
        int threads = Runtime.getRuntime().availableProcessors();
        engine = new Engine(new ModelShape(cfg.vocabSize(), cfg.hiddenSize(), cfg.numLayers()), threads);
        engine.model().initialize(1, (float) cfg.initScale());
        window = engine.newWindow(cfg.batchSize(), cfg.numSteps(), cfg.dropouts());
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < window.inputs.length; i++) {
            window.inputs[i] = r.nextInt(cfg.vocabSize());
            window.targets[i] = r.nextInt(cfg.vocabSize());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        engine.close();
    }

    @Benchmark
    public double trainWindow() {
        double loss = engine.trainWindow(window, (float) cfg.keepProb(), Dropout.splitSeed(1, step++));
        engine.update((float) cfg.learningRate(), (float) cfg.maxGradNorm());
        return loss;
    }
}
