package lstmlm.bench;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.SkinnyGemm;
import lstmlm.kernels.SkinnyGemmReference;
import lstmlm.natives.Blas;
import lstmlm.natives.OneDnn;
import lstmlm.natives.PackedMatmul;
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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The per-step recurrent products on one thread, at each config's shape: forward
 * z[20×4H] += h[20×H]·W_rec and backward dh[20×H] += dz[20×4H]·W_recᵀ. The few-row kernel over
 * packed panels against its scalar reference and against OpenBLAS (one thread) on the unpacked
 * weight, plus the two packings each window pays; and in bf16, oneDNN's GEMM on the plain weight
 * against its matmul over a weight packed once ({@link PackedMatmul}), with its packings.
 * Divide 2·20·H·4H by the time for GFLOP/s.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class RecurrentBench {
    @Param({"small", "medium", "large"})
    String shape;

    int hidden, gates, rows;
    Arena arena;
    MemorySegment wRec, wRecT, forwardPanels, backwardPanels, h, z, dz, dh, scratch;
    MemorySegment wRec16, h16, dz16;
    PackedMatmul forwardPacked, backwardPacked;

    @Setup(Level.Trial)
    public void setUp() {
        lstmlm.natives.ThreadPolicy.useBlasThreads(1);
        hidden = Shapes.hidden(shape);
        gates = 4 * hidden;
        rows = Shapes.BATCH;
        arena = Arena.ofShared();
        wRec = Shapes.random(arena, (long) hidden * gates, 0.1f, 1);
        wRecT = arena.allocate(4L * hidden * gates, 64);
        for (int i = 0; i < hidden; i++) {
            for (int j = 0; j < gates; j++) {
                wRecT.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) j * hidden + i,
                        wRec.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) i * gates + j));
            }
        }
        forwardPanels = arena.allocate(4 * SkinnyGemm.packedSize(hidden, gates), 64);
        backwardPanels = arena.allocate(4 * SkinnyGemm.packedSize(gates, hidden), 64);
        packForward();
        packBackward();
        h = Shapes.random(arena, (long) rows * hidden, 1f, 2);
        z = Shapes.random(arena, (long) rows * gates, 1f, 3);
        dz = Shapes.random(arena, (long) rows * gates, 1f, 4);
        dh = Shapes.random(arena, (long) rows * hidden, 1f, 5);
        scratch = arena.allocate(4L * SkinnyGemm.scratchSize(), 64);
        wRec16 = bf16(wRec, (long) hidden * gates);
        h16 = bf16(h, (long) rows * hidden);
        dz16 = bf16(dz, (long) rows * gates);
        lstmlm.natives.ThreadPolicy.useOpenMpThreads(1);
        forwardPacked = new PackedMatmul(PackedMatmul.Element.BF16, rows, gates, hidden, hidden, false, gates, gates, true);
        backwardPacked = new PackedMatmul(PackedMatmul.Element.BF16, rows, hidden, gates, gates, true, gates, hidden, true);
        forwardPacked.pack(wRec16, 0);
        backwardPacked.pack(wRec16, 0);
    }

    private MemorySegment bf16(MemorySegment f, long n) {
        MemorySegment s = arena.allocate(2 * n, 64);
        Bf16.fromFloats(f, 0, s, 0, n);
        return s;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        forwardPacked.close();
        backwardPacked.close();
        arena.close();
    }

    @Benchmark
    public void packForward() {
        SkinnyGemm.pack(wRec, 0, gates, hidden, gates, forwardPanels, 0, 0, SkinnyGemm.panelCount(gates));
    }

    @Benchmark
    public void packBackward() {
        SkinnyGemm.packTransposed(wRec, 0, gates, gates, hidden, backwardPanels, 0, 0, SkinnyGemm.panelCount(hidden));
    }

    @Benchmark
    public void forwardKernel() {
        SkinnyGemm.multiplyAdd(rows, hidden, h, 0, hidden, forwardPanels, 0, z, 0, gates, gates,
                0, SkinnyGemm.panelCount(gates), scratch, 0);
    }

    @Benchmark
    public void forwardReference() {
        SkinnyGemmReference.multiplyAdd(rows, hidden, h, 0, hidden, wRec, 0, gates, z, 0, gates, 0, gates);
    }

    @Benchmark
    public void forwardOpenBlas() {
        Blas.sgemm(false, false, rows, gates, hidden, 1f, h, 0, hidden, wRec, 0, gates, 1f, z, 0, gates);
    }

    @Benchmark
    public void backwardKernel() {
        SkinnyGemm.multiplyAdd(rows, gates, dz, 0, gates, backwardPanels, 0, dh, 0, hidden, hidden,
                0, SkinnyGemm.panelCount(hidden), scratch, 0);
    }

    @Benchmark
    public void backwardReference() {
        SkinnyGemmReference.multiplyAdd(rows, gates, dz, 0, gates, wRecT, 0, hidden, dh, 0, hidden, 0, hidden);
    }

    @Benchmark
    public void backwardOpenBlas() {
        Blas.sgemm(false, true, rows, hidden, gates, 1f, dz, 0, gates, wRec, 0, gates, 1f, dh, 0, hidden);
    }

    @Benchmark
    public void forwardOneDnnBf16() {
        OneDnn.gemmBf16(false, false, rows, gates, hidden, 1f, h16, 0, hidden, wRec16, 0, gates, 1f, z, 0, gates);
    }

    @Benchmark
    public void backwardOneDnnBf16() {
        OneDnn.gemmBf16(false, true, rows, hidden, gates, 1f, dz16, 0, gates, wRec16, 0, gates, 1f, dh, 0, hidden);
    }

    @Benchmark
    public void forwardPackedBf16() {
        forwardPacked.multiply(h16, 0, z, 0);
    }

    @Benchmark
    public void backwardPackedBf16() {
        backwardPacked.multiply(dz16, 0, dh, 0);
    }

    /** The per-window reorders the packed products pay (forward W_rec, backward W_recᵀ). */
    @Benchmark
    public void packForwardBf16() {
        forwardPacked.pack(wRec16, 0);
    }

    @Benchmark
    public void packBackwardBf16() {
        backwardPacked.pack(wRec16, 0);
    }
}
