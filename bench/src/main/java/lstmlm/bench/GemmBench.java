package lstmlm.bench;

import lstmlm.natives.Blas;
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
import org.openjdk.jmh.infra.BenchmarkParams;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * sgemm through FFM at the shapes one training window uses (name: m x n x k, then the transposes
 * of A and B), on all cores. Divide 2·m·n·k by the time for GFLOP/s. The tiny shapes measure the
 * call itself: our binding (off-heap, raw addresses, critical for small work) against a handle
 * that takes heap arrays through {@code Linker.Option.critical(true)} and an ordinary handle.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class GemmBench {

    @Param({
            // small (H 200, T 20): logits, dS_w, dX; per-step forward and backward; layer input projection
            "400x10000x200:NN", "200x10000x400:TN", "400x200x10000:NT", "20x800x200:NN", "20x200x800:NT", "400x800x200:NN",
            // medium (H 650, T 35)
            "700x10000x650:NN", "20x2600x650:NN", "20x650x2600:NT", "700x2600x650:NN",
            // large (H 1500, T 35)
            "20x6000x1500:NN", "20x1500x6000:NT", "700x6000x1500:NN",
            // the 2048^3 peak the fractions are measured against
            "2048x2048x2048:NN"})
    String shape;

    int m, n, k, lda, ldb;
    boolean ta, tb;
    Arena arena;
    MemorySegment a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        String[] dims = shape.split(":")[0].split("x");
        m = Integer.parseInt(dims[0]);
        n = Integer.parseInt(dims[1]);
        k = Integer.parseInt(dims[2]);
        ta = shape.endsWith(":TN") || shape.endsWith(":TT");
        tb = shape.endsWith(":NT") || shape.endsWith(":TT");
        lda = ta ? m : k;
        ldb = tb ? k : n;
        arena = Arena.ofShared();
        a = Shapes.random(arena, (long) m * k, 1f, 1);
        b = Shapes.random(arena, (long) k * n, 1f, 2);
        c = Shapes.random(arena, (long) m * n, 1f, 3);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void sgemm() {
        Blas.sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n);
    }

    /** Call overhead at tiny sizes, three ways. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public static class CallOverhead {
        @Param({"1", "4", "16"})
        int size;

        static final MethodHandle HEAP_CRITICAL, OFF_HEAP_PLAIN;

        static {
            FunctionDescriptor d = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);
            Linker linker = Linker.nativeLinker();
            MemorySegment sym = Blas.symbol("cblas_sgemm");
            HEAP_CRITICAL = linker.downcallHandle(sym, d, Linker.Option.critical(true));
            OFF_HEAP_PLAIN = linker.downcallHandle(sym, d);
        }

        float[] ha, hb, hc;
        Arena arena;
        MemorySegment a, b, c;

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            int s = size * size;
            ha = new float[s];
            hb = new float[s];
            hc = new float[s];
            java.util.Arrays.fill(ha, 1f);
            java.util.Arrays.fill(hb, 1f);
            arena = Arena.ofShared();
            a = Shapes.random(arena, s, 1f, 1);
            b = Shapes.random(arena, s, 1f, 2);
            c = Shapes.random(arena, s, 1f, 3);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }

        @Benchmark
        @Warmup(iterations = 3, time = 1)
        @Measurement(iterations = 4, time = 1)
        @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
        public void ourBindingOffHeap() {
            Blas.sgemm(false, false, size, size, size, 1f, a, 0, size, b, 0, size, 0f, c, 0, size);
        }

        @Benchmark
        @Warmup(iterations = 3, time = 1)
        @Measurement(iterations = 4, time = 1)
        @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
        public void heapArraysCritical() throws Throwable {
            HEAP_CRITICAL.invokeExact(101, 111, 111, size, size, size, 1f, MemorySegment.ofArray(ha), size,
                    MemorySegment.ofArray(hb), size, 0f, MemorySegment.ofArray(hc), size);
        }

        @Benchmark
        @Warmup(iterations = 3, time = 1)
        @Measurement(iterations = 4, time = 1)
        @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
        public void offHeapOrdinaryHandle() throws Throwable {
            OFF_HEAP_PLAIN.invokeExact(101, 111, 111, size, size, size, 1f, a, size, b, size, 0f, c, size);
        }
    }
}
