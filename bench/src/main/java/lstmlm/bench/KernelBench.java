package lstmlm.bench;

import lstmlm.kernels.Dropout;
import lstmlm.kernels.DropoutReference;
import lstmlm.kernels.Embedding;
import lstmlm.kernels.EmbeddingReference;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.LstmCellReference;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.kernels.SoftmaxCrossEntropyReference;
import lstmlm.kernels.VectorMath;
import lstmlm.kernels.VectorMathReference;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Every kernel against its scalar reference at the small, medium and large shapes, single
 * threaded: the LSTM cell over one step's B = 20 rows, softmax-CE over 20 rows of V = 10000,
 * dropout and the embedding over a whole window (T·B rows), norm and SGD over the dense
 * parameters. Kernels that rewrite their input in place (cell backward, softmax backward) restore
 * it first; {@code restoreOnly} measures that copy alone.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate"})
public class KernelBench {
    @Param({"small", "medium", "large"})
    String shape;

    int hidden, rows, windowRows;
    long dense;
    Arena arena;
    MemorySegment z, zPristine, bias, cPrev, c, tanhC, h, dh, dc, dcPristine;
    MemorySegment logits, logitsPristine, softmaxBias, dSoftmaxBias, softmaxScratch;
    MemorySegment mask, x, out, table, dTable, params, grads;
    int[] targets, ids;

    @Setup(Level.Trial)
    public void setUp() {
        hidden = Shapes.hidden(shape);
        rows = Shapes.BATCH;
        windowRows = Shapes.BATCH * Shapes.steps(shape);
        dense = Shapes.denseParameters(shape);
        arena = Arena.ofShared();
        long g = 4L * hidden;
        z = Shapes.random(arena, rows * g, 2f, 1);
        zPristine = Shapes.random(arena, rows * g, 2f, 1);
        bias = Shapes.random(arena, g, 0.1f, 2);
        cPrev = Shapes.random(arena, (long) rows * hidden, 1f, 3);
        c = Shapes.random(arena, (long) rows * hidden, 1f, 4);
        h = Shapes.random(arena, (long) rows * hidden, 1f, 5);
        tanhC = Shapes.random(arena, (long) rows * hidden, 1f, 20);
        dh = Shapes.random(arena, (long) rows * hidden, 0.1f, 6);
        dc = Shapes.random(arena, (long) rows * hidden, 0.1f, 7);
        dcPristine = Shapes.random(arena, (long) rows * hidden, 0.1f, 7);
        // gates for backward must be activated values in (0, 1): run the forward once on the copy
        LstmCell.forward(zPristine, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, rows, hidden, 0f);
        softmaxScratch = arena.allocate(4L * Shapes.VOCAB, 64);
        logits = Shapes.random(arena, (long) rows * Shapes.VOCAB, 5f, 9);
        logitsPristine = Shapes.random(arena, (long) rows * Shapes.VOCAB, 5f, 9);
        softmaxBias = Shapes.random(arena, Shapes.VOCAB, 0.1f, 10);
        dSoftmaxBias = Shapes.random(arena, Shapes.VOCAB, 0f, 11);
        mask = Shapes.random(arena, (long) windowRows * hidden, 0f, 12);
        x = Shapes.random(arena, (long) windowRows * hidden, 1f, 13);
        out = Shapes.random(arena, (long) windowRows * hidden, 0f, 14);
        table = Shapes.random(arena, (long) Shapes.VOCAB * hidden, 0.1f, 15);
        dTable = Shapes.random(arena, (long) Shapes.VOCAB * hidden, 0f, 16);
        params = Shapes.random(arena, dense, 0.1f, 17);
        grads = Shapes.random(arena, dense, 1e-3f, 18);
        SplittableRandom r = new SplittableRandom(19);
        targets = new int[rows];
        for (int i = 0; i < rows; i++) targets[i] = r.nextInt(Shapes.VOCAB);
        ids = new int[windowRows];
        for (int i = 0; i < windowRows; i++) ids[i] = r.nextInt(Shapes.VOCAB);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    private void restore() {
        MemorySegment.copy(zPristine, 0, z, 0, z.byteSize());
        MemorySegment.copy(dcPristine, 0, dc, 0, dc.byteSize());
    }

    @Benchmark
    public void restoreOnly() {
        restore();
    }

    @Benchmark
    public void lstmForward() {
        LstmCell.forward(z, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, rows, hidden, 0f);
    }

    @Benchmark
    public void lstmForwardReference() {
        LstmCellReference.forward(z, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, rows, hidden, 0f);
    }

    @Benchmark
    public void lstmBackward() {
        restore();
        LstmCell.backward(z, 0, cPrev, 0, tanhC, 0, dh, 0, dc, 0, rows, hidden);
    }

    @Benchmark
    public void lstmBackwardReference() {
        restore();
        LstmCellReference.backward(z, 0, cPrev, 0, tanhC, 0, dh, 0, dc, 0, rows, hidden);
    }

    @Benchmark
    public double softmaxForward() {
        return SoftmaxCrossEntropy.forward(logits, 0, softmaxBias, 0, targets, 0, 0, rows, Shapes.VOCAB, softmaxScratch, 0);
    }

    @Benchmark
    public double softmaxForwardReference() {
        return SoftmaxCrossEntropyReference.forward(logits, 0, softmaxBias, 0, targets, 0, 0, rows, Shapes.VOCAB);
    }

    @Benchmark
    public double softmaxForwardBackward() {
        MemorySegment.copy(logitsPristine, 0, logits, 0, logits.byteSize());
        return SoftmaxCrossEntropy.forwardBackward(logits, 0, softmaxBias, 0, targets, 0, 0, rows, Shapes.VOCAB,
                0.05f, dSoftmaxBias, 0);
    }

    @Benchmark
    public double softmaxForwardBackwardReference() {
        MemorySegment.copy(logitsPristine, 0, logits, 0, logits.byteSize());
        return SoftmaxCrossEntropyReference.forwardBackward(logits, 0, softmaxBias, 0, targets, 0, 0, rows,
                Shapes.VOCAB, 0.05f, dSoftmaxBias, 0);
    }

    @Benchmark
    public void dropoutMaskAndApply() {
        int n = windowRows * hidden;
        Dropout.mask(mask, 0, n, 0.5f, 42);
        Dropout.apply(x, 0, mask, 0, out, 0, n);
    }

    @Benchmark
    public void dropoutMaskAndApplyReference() {
        int n = windowRows * hidden;
        DropoutReference.mask(mask, 0, n, 0.5f, 42);
        DropoutReference.apply(x, 0, mask, 0, out, 0, n);
    }

    @Benchmark
    public void embeddingGather() {
        Embedding.gather(table, 0, ids, 0, windowRows, hidden, out, 0);
    }

    @Benchmark
    public void embeddingGatherReference() {
        EmbeddingReference.gather(table, 0, ids, 0, windowRows, hidden, out, 0);
    }

    @Benchmark
    public void embeddingScatterAdd() {
        Embedding.scatterAdd(dTable, 0, ids, 0, windowRows, hidden, x, 0);
    }

    @Benchmark
    public void embeddingScatterAddReference() {
        EmbeddingReference.scatterAdd(dTable, 0, ids, 0, windowRows, hidden, x, 0);
    }

    @Benchmark
    public void clipAndUpdate() {
        double norm = Math.sqrt(VectorMath.sumOfSquares(grads, 0, dense));
        VectorMath.sgdStep(params, 0, grads, 0, dense, (float) (1e-3 / Math.max(norm, 1)));
    }

    @Benchmark
    public void clipAndUpdateReference() {
        double norm = Math.sqrt(VectorMathReference.sumOfSquares(grads, 0, dense));
        VectorMathReference.sgdStep(params, 0, grads, 0, dense, (float) (1e-3 / Math.max(norm, 1)));
    }
}
