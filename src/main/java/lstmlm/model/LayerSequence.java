package lstmlm.model;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.FastExp;
import lstmlm.kernels.Int8;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.RowKernels;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.kernels.VectorMath;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.WeightFormat;
import lstmlm.natives.Blas;
import lstmlm.natives.OneDnn;
import lstmlm.natives.PackedMatmul;

import java.lang.foreign.MemorySegment;

/**
 * One step of the layer sequence for R independent streams, each fed one word: embedding → L LSTM
 * cells → output layer, then the log-normaliser of a row. llm.c style: each layer a
 * {@code *Forward} over flat memory; how the products run is a {@link Product} chosen once, when the
 * caller is built, so the step itself holds only the math. Inference runs it: a session (R = 1, the
 * one-row kernels that stream each weight once), and the batched step, the dynamic batcher and the
 * batch scorer (R rows: GEMMs, oneDNN's matmul on packed weights or OpenBLAS). The cell and the
 * normaliser are the very kernels training's passes run.
 *
 * <p>The state of R rows ({@link State}), floats:
 * <pre>
 * xh[l]   [R × 2H]  row r: layer l's input x_r then its output h_r, the vector W_l [2H × 4H] multiplies
 * c       2 × L × [R × H]   cell states, used in turn (the cell kernel must not write c over cPrev)
 * gates   [R × 4H]
 * h       [R × H]   the cell's output before it is copied into the xh rows (R > 1)
 * tanhC   [R × H]   written by the cell for training's backward; unused here
 * logits  [R × V]   the next word's logits, the output bias included
 * </pre>
 */
public final class LayerSequence {
    private LayerSequence() {}

    /**
     * A model's weights as the file stores them ({@link WeightFormat}): int8 matrices with their
     * per-output scales (null otherwise). {@code softmaxWeight} is [V × H] when {@code transposedSoftmax}
     * (tied to the embedding, or a transposed copy), else [H × V]. {@code zeros}: max(4H, V) zeros, the
     * "no bias" of the kernels that take one.
     */
    public record Weights(WeightFormat format, int vocab, int hidden, int layers,
                          MemorySegment embedding, MemorySegment embeddingScale,
                          MemorySegment[] lstmWeight, MemorySegment[] lstmScale, MemorySegment[] lstmBias,
                          MemorySegment softmaxWeight, MemorySegment softmaxScale, MemorySegment softmaxBias,
                          boolean transposedSoftmax, MemorySegment zeros, Adaptive adaptive) {
        /** A model with a full softmax. */
        public Weights(WeightFormat format, int vocab, int hidden, int layers, MemorySegment embedding,
                       MemorySegment embeddingScale, MemorySegment[] lstmWeight, MemorySegment[] lstmScale,
                       MemorySegment[] lstmBias, MemorySegment softmaxWeight, MemorySegment softmaxScale,
                       MemorySegment softmaxBias, boolean transposedSoftmax, MemorySegment zeros) {
            this(format, vocab, hidden, layers, embedding, embeddingScale, lstmWeight, lstmScale, lstmBias, softmaxWeight,
                    softmaxScale, softmaxBias, transposedSoftmax, zeros, null);
        }
    }

    /**
     * An adaptive softmax's tensors in fp32 ({@link lstmlm.modelfile.AdaptiveSoftmax}; a compact file's widened): the head [H × N] and its
     * bias, and per tail cluster the projection [H × Dᵢ], weight [Dᵢ × Sᵢ] and bias [Sᵢ]. Its step writes
     * into the logits row, for every word, a value whose softmax over the row is the model's distribution
     * (a head word's head logit; a cluster word's head logit of its cluster plus its log-softmax inside the
     * cluster), so every reader of logits (normaliser, top-k, sampling) works unchanged.
     */
    public record Adaptive(lstmlm.modelfile.AdaptiveSoftmax clusters, MemorySegment headWeight, MemorySegment headBias,
                           MemorySegment[] projection, MemorySegment[] weight, MemorySegment[] bias) {}

    /** The weight matrices in fp32, as a GEMM reads them: the file's own, or a widened copy of compact ones. */
    public record Fp32(MemorySegment embedding, MemorySegment[] lstmWeight, MemorySegment softmaxWeight, boolean transposed) {}

    /**
     * The {@link Fp32} matrices packed once into oneDNN's blocked layout: each layer's W_l (a matmul of
     * 4H outputs over 2H inputs) and the output layer's (V over H; null for an adaptive softmax, whose
     * output runs from its own tensors). The layout depends on the OpenMP team that multiplies, not on
     * the row count, so every batch stepped by a team of that size multiplies by these copies through
     * matmuls of its own ({@link PackedMatmul}'s sharing constructor); they must outlive those batches.
     */
    public record PackedFp32(PackedMatmul[] lstm, PackedMatmul softmax) implements AutoCloseable {
        /**
         * {@code f}'s matrices packed, or null where oneDNN cannot be loaded (it is an optional
         * dependency) or its float32 matmul here is not the blocked kind ({@code brg_matmul}) that was
         * measured faster than OpenBLAS for a batch's rows (docs/performance.md).
         */
        public static PackedFp32 pack(Fp32 f, int layers, int hidden, int vocab) {
            if (!OneDnn.available()) return null;
            int h = hidden, g = 4 * h, m = Gemm.MATMUL_ROWS;
            PackedMatmul[] lstm = new PackedMatmul[layers];
            PackedMatmul softmax = null;
            try {
                for (int l = 0; l < layers; l++) {
                    lstm[l] = new PackedMatmul(PackedMatmul.Element.F32, m, g, 2 * h, 2 * h, false, g, g, false);
                    if (!lstm[l].implementation().startsWith("brg_matmul")) {
                        new PackedFp32(lstm, null).close();
                        return null;
                    }
                    lstm[l].pack(f.lstmWeight()[l], 0);
                }
                if (f.softmaxWeight() != null) {
                    softmax = f.transposed()
                            ? new PackedMatmul(PackedMatmul.Element.F32, m, vocab, h, h, true, h, vocab, false)
                            : new PackedMatmul(PackedMatmul.Element.F32, m, vocab, h, h, false, vocab, vocab, false);
                    softmax.pack(f.softmaxWeight(), 0);
                }
                return new PackedFp32(lstm, softmax);
            } catch (RuntimeException e) {
                new PackedFp32(lstm, softmax).close();
                throw e;
            }
        }

        @Override
        public void close() {
            for (PackedMatmul mm : lstm) if (mm != null) mm.close();
            if (softmax != null) softmax.close();
        }
    }

    /**
     * Where the products of more than a few rows find their weights, made on first use by the model
     * that owns them: the fp32 matrices, and their packed copies for the calling thread's OpenMP team
     * (null where the program runs without oneDNN, or where its matmul is not the blocked kind that
     * beats OpenBLAS). Neither allocates once made.
     */
    public interface GemmWeights {
        Fp32 fp32();

        PackedFp32 packed();
    }

    /** How the step's two products run: the gates of a layer and the logits. */
    public interface Product {
        /** gates[rows × 4H] = xh[rows × 2H] · W_l (no bias: the cell adds it). */
        void gates(int l, int rows, State s);

        /** logits[rows × V] = h_top[rows × H] · S + b. */
        void logits(int rows, State s);
    }

    /**
     * Rows stepped together up to which fp32 weights are multiplied by the few-row kernel, which reads
     * each weight once for all rows (bit for bit the one-row kernel's results); above, OpenBLAS.
     */
    public static final int FEW_ROWS = 4;

    /**
     * Runs a one-row product's output columns [0, cols) as ranges, on the calling thread or on several:
     * every column's value is the same however they are split (each is one FMA chain of the one-row
     * kernels), so the split changes speed, never results. {@link #ALONE} runs them all on the caller.
     * Ranges are whole {@link #BLOCK}s of columns (the last may end early): a caller may key scratch
     * memory by {@code from / BLOCK}.
     */
    public interface ColumnSplit {
        /** Columns per block: 64 bytes of floats, so no two ranges write one cache line. */
        int BLOCK = 16;

        void run(int cols, ColumnRange range);

        ColumnSplit ALONE = (cols, range) -> range.run(0, cols);
    }

    /** Computes the output columns [from, to) of a product. */
    @FunctionalInterface
    public interface ColumnRange {
        void run(int from, int to);
    }

    /** {@link #product(Weights, int, GemmWeights, ColumnSplit)} with every one-row product on the calling thread. */
    public static Product product(Weights w, int rows, GemmWeights gemm) {
        return product(w, rows, gemm, ColumnSplit.ALONE);
    }

    /**
     * The product for up to {@code rows} streams stepped together, chosen per call by the rows in use:
     * one row streams each weight once through the Java one-row kernel of the file's format (the
     * matrices read where they lie, compact or not), its columns run as {@code split} says; a few rows
     * of fp32 weights the few-row kernel (the same bits as one row at a time); more rows, or compact
     * weights, GEMMs on fp32 weights ({@code gemm}, asked for on first use): oneDNN's matmul on the
     * packed copies where there are some, else OpenBLAS.
     */
    public static Product product(Weights w, int rows, GemmWeights gemm, ColumnSplit split) {
        if (rows < 1) throw new IllegalArgumentException("rows must be at least 1, got " + rows);
        Product one = OneRow.of(w, split);
        Product few = w.format() == WeightFormat.FP32 && !w.transposedSoftmax() ? new FewRowsFp32(w) : null;
        Product layers = rows == 1 ? one : new ByRows(one, few, new Gemm(w, gemm, rows));
        // an adaptive softmax: the layers as for a full one, the output from the adaptive tensors (fp32)
        return w.adaptive() != null ? new AdaptiveOutput(w, layers, rows) : layers;
    }

    /** The product for the rows of each call: one, a few (when there is a few-row kernel for the format), or many. */
    private record ByRows(Product one, Product few, Product many) implements Product {
        private Product of(int rows) {
            return rows == 1 ? one : few != null && rows <= FEW_ROWS ? few : many;
        }

        @Override
        public void gates(int l, int rows, State s) {
            of(rows).gates(l, rows, s);
        }

        @Override
        public void logits(int rows, State s) {
            of(rows).logits(rows, s);
        }
    }

    /** The buffers of up to {@code rows} streams (see the class comment), cut from one caller-owned slab. */
    public static final class State {
        public final int rows;
        final int hidden, layers, vocab;
        final MemorySegment xh, cells, gates, h, tanhC, logits;
        private int parity;

        /** Lays the buffers out in {@code slab}, which must hold {@link #bytes} of them. */
        public State(MemorySegment slab, int rows, int layers, int hidden, int vocab) {
            this.rows = rows;
            this.layers = layers;
            this.hidden = hidden;
            this.vocab = vocab;
            long[] at = layout(rows, layers, hidden, vocab);
            this.xh = slab.asSlice(at[0], at[1] - at[0]);
            this.cells = slab.asSlice(at[1], at[2] - at[1]);
            this.gates = slab.asSlice(at[2], at[3] - at[2]);
            this.h = slab.asSlice(at[3], at[4] - at[3]);
            this.tanhC = slab.asSlice(at[4], at[5] - at[4]);
            this.logits = slab.asSlice(at[5], at[6] - at[5]);
        }

        /** The slab bytes a state of this shape needs. */
        public static long bytes(int rows, int layers, int hidden, int vocab) {
            return layout(rows, layers, hidden, vocab)[6];
        }

        /** Where each buffer starts (bytes, 64-aligned), and the end. */
        private static long[] layout(int rows, int layers, int hidden, int vocab) {
            long rh = (long) rows * hidden;
            long[] sizes = {4 * rh * 2 * layers, 4 * rh * 2 * layers, 4 * rh * 4, 4 * rh, 4 * rh, 4L * rows * vocab};
            long[] at = new long[sizes.length + 1];
            for (int i = 0; i < sizes.length; i++) at[i + 1] = (at[i] + sizes[i] + 63) & ~63L;
            return at;
        }

        /** Row r's logits: the next word's, after the last step (floats from {@link #logits()}'s start). */
        public long logitsRow(int r) {
            return (long) r * vocab;
        }

        public MemorySegment logits() {
            return logits;
        }

        /** Zero state in every row. */
        public void reset() {
            xh.fill((byte) 0);
            cells.fill((byte) 0);
            parity = 0;
        }

        /** This state becomes exactly {@code other}'s (same shape): the LSTM state and the logits. */
        public void copyFrom(State other) {
            xh.copyFrom(other.xh);
            cells.copyFrom(other.cells);
            logits.copyFrom(other.logits);
            parity = other.parity;
        }

        /**
         * Rows [0, n) of this state become rows {@code from[0..n)} of {@code src} (same shape, another
         * state): each row's LSTM state in every layer and its logits. What a beam search does with
         * the survivors of a step; rows of {@code src} may be taken several times or not at all.
         */
        public void selectRows(State src, int[] from, int n) {
            if (src == this) throw new IllegalArgumentException("select from another state: rows would overwrite each other");
            for (int r = 0; r < n; r++) {
                copyRow(src, from[r], r);
                copyLogitsRow(src, from[r], r);
            }
        }

        /**
         * Row {@code to} of this state takes row {@code from} of {@code src}'s LSTM state in every layer
         * (the states may hold different numbers of rows; layers and sizes must match). What gathers a
         * session's state into a batch's row and scatters it back.
         */
        public void copyRow(State src, int from, int to) {
            checkSameShape(src);
            for (int l = 0; l < layers; l++) {
                MemorySegment.copy(src.xh, 4 * src.xhRow(l, from), xh, 4 * xhRow(l, to), 8L * hidden);
                MemorySegment.copy(src.cells, 4 * (src.cellsAt(src.parity, l) + (long) from * hidden), cells,
                        4 * (cellsAt(parity, l) + (long) to * hidden), 4L * hidden);
            }
        }

        /** Row {@code to} of this state's logits becomes row {@code from} of {@code src}'s. */
        public void copyLogitsRow(State src, int from, int to) {
            checkSameShape(src);
            MemorySegment.copy(src.logits, 4 * src.logitsRow(from), logits, 4 * logitsRow(to), 4L * vocab);
        }

        private void checkSameShape(State src) {
            if (src.layers != layers || src.hidden != hidden || src.vocab != vocab) {
                throw new IllegalArgumentException("states of different models: " + src.layers + "x" + src.hidden + "x"
                        + src.vocab + " vs " + layers + "x" + hidden + "x" + vocab);
            }
        }

        /** Floats from xh's start to row r's top-layer h: what the output layer reads. */
        long top(int r) {
            return xhRow(layers - 1, r) + hidden;
        }

        /** Floats from xh's start to row r of layer l's [x | h]. */
        long xhRow(int l, int r) {
            return ((long) l * rows + r) * 2 * hidden;
        }

        /** Floats from the cells' start to row 0 of layer l's cell state of the given parity. */
        long cellsAt(int parity, int l) {
            return ((long) parity * layers + l) * rows * hidden;
        }
    }

    /** Advances rows [0, rows) of {@code s} by one word each, {@code ids[r]}: the next words' logits land in {@code s.logits}. */
    public static void stepForward(Weights w, Product p, State s, int[] ids, int rows) {
        stepLayers(w, p, s, ids, rows);
        p.logits(rows, s);
    }

    /**
     * The step without its output layer: rows [0, rows) advance by one word each and the top layer's h
     * is ready; the logits are not written ({@link Product#logits} writes them, or a {@link PartialOutput}
     * answers for one word without them).
     */
    public static void stepLayers(Weights w, Product p, State s, int[] ids, int rows) {
        embeddingForward(w, s, ids, rows);
        for (int l = 0; l < w.layers(); l++) lstmForward(w, p, s, l, rows);
        s.parity ^= 1;
    }

    /**
     * An output layer that can give one word's log-probability without the whole row: the adaptive
     * softmax, which then computes the head and that word's cluster only. Row 0 of a state; what it
     * computed stays valid until {@link #invalidate} (call it after each step, and after the state changes).
     */
    public interface PartialOutput {
        void invalidate();

        /** log P(id) for row 0 of {@code s}, after {@link #stepLayers}. */
        double logProbability(State s, int id);
    }

    /** x of layer 0, row r = E[ids[r]], widened from the file's format. */
    static void embeddingForward(Weights w, State s, int[] ids, int rows) {
        final int H = w.hidden();
        for (int r = 0; r < rows; r++) {
            long x = s.xhRow(0, r);
            int id = ids[r];
            switch (w.format()) {
                case FP32 -> MemorySegment.copy(w.embedding(), 4L * id * H, s.xh, 4 * x, 4L * H);
                case BF16 -> Bf16.toFloats(w.embedding(), (long) id * H, s.xh, x, H);
                case INT8 -> Int8.dequantizeRow(w.embedding(), (long) id * H,
                        w.embeddingScale().getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, id), H, s.xh, x);
            }
        }
    }

    /**
     * z = [x | h]·W_l; the cell turns z, the bias and c_{t−1} into c_t and h_t; h_t goes into layer l's
     * h slot (its next step's recurrent input) and into layer l + 1's x slot.
     */
    static void lstmForward(Weights w, Product p, State s, int l, int rows) {
        final int H = w.hidden();
        p.gates(l, rows, s);
        long cPrev = s.cellsAt(s.parity, l), cNext = s.cellsAt(s.parity ^ 1, l);
        if (rows == 1) {
            // one row: the cell writes h straight into its slot
            LstmCell.forward(s.gates, 0, w.lstmBias()[l], 0, s.cells, cPrev, s.cells, cNext, s.tanhC, 0,
                    s.xh, s.xhRow(l, 0) + H, 1, H, ModelShape.FORGET_BIAS);
            if (l + 1 < w.layers()) MemorySegment.copy(s.xh, 4 * (s.xhRow(l, 0) + H), s.xh, 4 * s.xhRow(l + 1, 0), 4L * H);
            return;
        }
        LstmCell.forward(s.gates, 0, w.lstmBias()[l], 0, s.cells, cPrev, s.cells, cNext, s.tanhC, 0,
                s.h, 0, rows, H, ModelShape.FORGET_BIAS);
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(s.h, 4L * r * H, s.xh, 4 * (s.xhRow(l, r) + H), 4L * H);
            if (l + 1 < w.layers()) MemorySegment.copy(s.h, 4L * r * H, s.xh, 4 * s.xhRow(l + 1, r), 4L * H);
        }
    }

    // ---------------------------------------------------------------- the output's normaliser

    /** max_j logits[off + j] over j in [0, n): the shift of {@link #expSum}. */
    public static float max(MemorySegment logits, long off, int n, MemorySegment zeros) {
        return SoftmaxCrossEntropy.max(logits, off, zeros, 0, n);
    }

    /** exps[j] = exp(alpha·logits[off + j] − shift) for j in [0, n); returns their sum (training's exp). */
    public static float expSum(float alpha, MemorySegment logits, long off, int n, MemorySegment zeros, float shift,
                               MemorySegment exps) {
        return FastExp.expSum(alpha, logits, off, zeros, 0, shift, exps, 0, n);
    }

    /** log Σ_j exp(logits[off + j]): training's normaliser, its exponentials left in {@code exps}. */
    public static double logNormalizer(MemorySegment logits, long off, int n, MemorySegment zeros, MemorySegment exps) {
        return logNormalizer(logits, off, n, zeros, exps, 0);
    }

    /** The same with its scratch at float {@code expsOff} of {@code exps}. */
    public static double logNormalizer(MemorySegment logits, long off, int n, MemorySegment zeros, MemorySegment exps,
                                       long expsOff) {
        return SoftmaxCrossEntropy.logSumExp(logits, off, zeros, 0, n, exps, expsOff);
    }

    /** out[j] = a · src[j] for j in [0, n): probabilities out of the exponentials. */
    public static void scaleInto(MemorySegment src, int n, float a, float[] out) {
        VectorMath.scaleInto(src, 0, n, a, out);
    }

    // ---------------------------------------------------------------- products

    /**
     * One row: the one-row kernel of one format, each product's output columns run as {@code split}
     * says (alone: a direct call). One class per format, each calling its own kernel only: a compiled
     * product then holds one kernel, small enough for C2 to keep every vector in registers; one class
     * for all three held all three kernels and boxed vectors in some runs. The state and layer of the
     * call in progress sit in fields, so a split allocates nothing.
     */
    private abstract static class OneRow implements Product {
        final Weights w;
        final ColumnSplit split;
        final boolean alone;
        State s;
        int layer;

        OneRow(Weights w, ColumnSplit split) {
            this.w = w;
            this.split = split;
            this.alone = split == ColumnSplit.ALONE;
        }

        static OneRow of(Weights w, ColumnSplit split) {
            return switch (w.format()) {
                case FP32 -> new OneRowFp32(w, split);
                case BF16 -> new OneRowBf16(w, split);
                case INT8 -> new OneRowInt8(w, split);
            };
        }
    }

    /** fp32 weights: the row kernels, bit-identical to their scalar reference. */
    private static final class OneRowFp32 extends OneRow {
        private final ColumnRange gatesRange = this::gatesColumns, logitsRange = this::logitsColumns;

        OneRowFp32(Weights w, ColumnSplit split) {
            super(w, split);
        }

        @Override
        public void gates(int l, int rows, State s) {
            this.s = s;
            this.layer = l;
            if (alone) gatesColumns(0, 4 * w.hidden());
            else split.run(4 * w.hidden(), gatesRange);
        }

        @Override
        public void logits(int rows, State s) {
            this.s = s;
            if (alone) logitsColumns(0, w.vocab());
            else split.run(w.vocab(), logitsRange);
        }

        private void gatesColumns(int from, int to) {
            int H = w.hidden();
            RowKernels.vectorTimesMatrix(s.xh, s.xhRow(layer, 0), 2 * H, w.lstmWeight()[layer], 0, 4 * H, from, to, w.zeros(), 0,
                    s.gates, 0);
        }

        private void logitsColumns(int from, int to) {
            int H = w.hidden();
            if (w.transposedSoftmax()) { // [V × H]: output j is row j's dot product, so a column range is a range of rows
                RowKernels.matrixTimesVector(w.softmaxWeight(), (long) from * H, to - from, H, s.xh, s.top(0), w.softmaxBias(), from,
                        s.logits, from);
            } else {
                RowKernels.vectorTimesMatrix(s.xh, s.top(0), H, w.softmaxWeight(), 0, w.vocab(), from, to, w.softmaxBias(), 0,
                        s.logits, 0);
            }
        }
    }

    /** bf16 weights read where they lie, widened exactly. */
    private static final class OneRowBf16 extends OneRow {
        private final ColumnRange gatesRange = this::gatesColumns, logitsRange = this::logitsColumns;

        OneRowBf16(Weights w, ColumnSplit split) {
            super(w, split);
        }

        @Override
        public void gates(int l, int rows, State s) {
            this.s = s;
            this.layer = l;
            if (alone) gatesColumns(0, 4 * w.hidden());
            else split.run(4 * w.hidden(), gatesRange);
        }

        @Override
        public void logits(int rows, State s) {
            this.s = s;
            if (alone) logitsColumns(0, w.vocab());
            else split.run(w.vocab(), logitsRange);
        }

        private void gatesColumns(int from, int to) {
            int H = w.hidden();
            RowKernels.vectorTimesMatrixBf16(s.xh, s.xhRow(layer, 0), 2 * H, w.lstmWeight()[layer], 0, 4 * H, from, to, w.zeros(), 0,
                    s.gates, 0);
        }

        private void logitsColumns(int from, int to) {
            int H = w.hidden();
            if (w.transposedSoftmax()) {
                RowKernels.matrixTimesVectorBf16(w.softmaxWeight(), (long) from * H, to - from, H, s.xh, s.top(0), w.softmaxBias(), from,
                        s.logits, from);
            } else {
                RowKernels.vectorTimesMatrixBf16(s.xh, s.top(0), H, w.softmaxWeight(), 0, w.vocab(), from, to, w.softmaxBias(), 0,
                        s.logits, 0);
            }
        }
    }

    /** int8 weights read where they lie, each output's scale applied once after its sum. */
    private static final class OneRowInt8 extends OneRow {
        private final ColumnRange gatesRange = this::gatesColumns, logitsRange = this::logitsColumns;

        OneRowInt8(Weights w, ColumnSplit split) {
            super(w, split);
        }

        @Override
        public void gates(int l, int rows, State s) {
            this.s = s;
            this.layer = l;
            if (alone) gatesColumns(0, 4 * w.hidden());
            else split.run(4 * w.hidden(), gatesRange);
        }

        @Override
        public void logits(int rows, State s) {
            this.s = s;
            if (alone) logitsColumns(0, w.vocab());
            else split.run(w.vocab(), logitsRange);
        }

        private void gatesColumns(int from, int to) {
            int H = w.hidden();
            RowKernels.vectorTimesMatrixInt8(s.xh, s.xhRow(layer, 0), 2 * H, w.lstmWeight()[layer], 0, 4 * H, from, to,
                    w.lstmScale()[layer], 0, w.zeros(), 0, s.gates, 0);
        }

        private void logitsColumns(int from, int to) {
            int H = w.hidden();
            if (w.transposedSoftmax()) {
                RowKernels.matrixTimesVectorInt8(w.softmaxWeight(), (long) from * H, to - from, H, s.xh, s.top(0), w.softmaxScale(), from,
                        w.softmaxBias(), from, s.logits, from);
            } else {
                RowKernels.vectorTimesMatrixInt8(s.xh, s.top(0), H, w.softmaxWeight(), 0, w.vocab(), from, to, w.softmaxScale(), 0,
                        w.softmaxBias(), 0, s.logits, 0);
            }
        }
    }

    /** A few rows, fp32 weights [H × V] (not transposed): the few-row kernel, each weight read once for all rows. */
    private record FewRowsFp32(Weights w) implements Product {
        @Override
        public void gates(int l, int rows, State s) {
            int H = w.hidden();
            RowKernels.rowsTimesMatrix(s.xh, s.xhRow(l, 0), 2 * H, rows, 2 * H, w.lstmWeight()[l], 0, 4 * H,
                    w.zeros(), 0, s.gates, 0, 4 * H);
        }

        @Override
        public void logits(int rows, State s) {
            int H = w.hidden(), V = w.vocab();
            RowKernels.rowsTimesMatrix(s.xh, s.top(0), 2 * H, rows, H, w.softmaxWeight(), 0, V,
                    w.softmaxBias(), 0, s.logits, 0, V);
        }
    }

    /**
     * The adaptive softmax's output for each row in turn (the one-row kernels; the gates as {@code layers}
     * runs them). Per row: the head's N logits; the head words' go to the row as they are; then each
     * cluster's logits, shifted by (its head logit − their log-sum-exp). Scratch: one row's head,
     * projection and exponentials, allocated with the product.
     */
    private static final class AdaptiveOutput implements Product, PartialOutput {
        private final Weights w;
        private final Product layers;
        private final MemorySegment head, projected, exps;
        /** Row 0's partial output: whether the head is computed, its log-normaliser, each cluster's (NaN: not yet). */
        private boolean headReady;
        private double headLogNorm;
        private final double[] clusterLogNorm;
        /** A cluster's logits of row 0, raw (bias included), at their places in a logits-row-sized buffer. */
        private final MemorySegment clusterLogits;

        /** More than {@link #FEW_ROWS} rows: every row's head [rows × N] and one cluster's projections [rows × Dᵢ], by GEMM. */
        private final MemorySegment heads, projections;

        AdaptiveOutput(Weights w, Product layers, int capacity) {
            this.w = w;
            this.layers = layers;
            var a = w.adaptive().clusters();
            var arena = java.lang.foreign.Arena.ofAuto();
            boolean gemm = capacity > FEW_ROWS;
            this.heads = gemm ? arena.allocate(4L * capacity * a.headSize(), 64) : null;
            this.projections = gemm ? arena.allocate(4L * capacity * a.maxProjection(w.hidden()), 64) : null;
            this.head = arena.allocate(4L * a.headSize(), 64);
            this.projected = arena.allocate(4L * a.maxProjection(w.hidden()), 64);
            this.exps = arena.allocate(4L * Math.max(a.maxSize(w.vocab()), a.headSize()), 64);
            this.clusterLogits = arena.allocate(4L * w.vocab(), 64);
            this.clusterLogNorm = new double[a.clusters()];
            invalidate();
        }

        @Override
        public void invalidate() {
            headReady = false;
            java.util.Arrays.fill(clusterLogNorm, Double.NaN);
        }

        /**
         * The head's logits and log-normaliser, then, for a tail word, its cluster's: log P(id) = head log-softmax
         * (of the word, or of its cluster) + the word's log-softmax inside the cluster. Each computed once a step.
         */
        @Override
        public double logProbability(State s, int id) {
            var a = w.adaptive().clusters();
            long top = s.top(0);
            if (!headReady) {
                headForward(s, top);
                headLogNorm = SoftmaxCrossEntropy.logSumExp(head, 0, w.zeros(), 0, a.headSize(), exps, 0);
                headReady = true;
            }
            int i = a.clusterOf(id);
            if (i < 0) return head.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, id) - headLogNorm;
            if (Double.isNaN(clusterLogNorm[i])) clusterLogNorm[i] = clusterForward(s, top, i, clusterLogits, a.start(i));
            return head.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, a.start(0) + i) - headLogNorm
                    + clusterLogits.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, id) - clusterLogNorm[i];
        }

        @Override
        public void gates(int l, int rows, State s) {
            layers.gates(l, rows, s);
        }

        @Override
        public void logits(int rows, State s) {
            headReady = false; // the head scratch is reused below, row by row
            if (rows > FEW_ROWS) {
                logitsByGemm(rows, s);
                return;
            }
            var a = w.adaptive().clusters();
            int c0 = a.start(0);
            for (int r = 0; r < rows; r++) {
                long top = s.top(r), row = s.logitsRow(r);
                headForward(s, top);
                MemorySegment.copy(head, 0, s.logits, 4 * row, 4L * c0);
                for (int i = 0; i < a.clusters(); i++) {
                    long at = row + a.start(i);
                    double logNorm = clusterForward(s, top, i, s.logits, at);
                    float clusterLogit = head.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, c0 + i);
                    VectorMath.addScalar(s.logits, at, a.size(i, w.vocab()), (float) (clusterLogit - logNorm));
                }
            }
        }

        /**
         * The same rows at once: heads[rows × N] = h_top · W_head, then per cluster projections[rows × Dᵢ] =
         * h_top · P_i and its logits straight into columns [cᵢ, cᵢ + Sᵢ) of the logits rows (ldc V); the
         * biases, each cluster's log-softmax and its head logit are then added row by row.
         */
        private void logitsByGemm(int rows, State s) {
            Adaptive ad = w.adaptive();
            var a = ad.clusters();
            int H = w.hidden(), V = w.vocab(), n0 = a.headSize(), c0 = a.start(0);
            long top = s.top(0);
            Blas.sgemm(false, false, rows, n0, H, 1f, s.xh, top, 2 * H, ad.headWeight(), 0, n0, 0f, heads, 0, n0);
            for (int r = 0; r < rows; r++) {
                VectorMath.add(heads, (long) r * n0, ad.headBias(), 0, n0);
                MemorySegment.copy(heads, 4L * r * n0, s.logits, 4 * s.logitsRow(r), 4L * c0);
            }
            for (int i = 0; i < a.clusters(); i++) {
                int d = a.projection(i, H), size = a.size(i, V);
                Blas.sgemm(false, false, rows, d, H, 1f, s.xh, top, 2 * H, ad.projection()[i], 0, d, 0f, projections, 0, d);
                Blas.sgemm(false, false, rows, size, d, 1f, projections, 0, d, ad.weight()[i], 0, size, 0f, s.logits, a.start(i), V);
                for (int r = 0; r < rows; r++) {
                    long at = s.logitsRow(r) + a.start(i);
                    VectorMath.add(s.logits, at, ad.bias()[i], 0, size);
                    double logNorm = SoftmaxCrossEntropy.logSumExp(s.logits, at, w.zeros(), 0, size, exps, 0);
                    float clusterLogit = heads.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) r * n0 + c0 + i);
                    VectorMath.addScalar(s.logits, at, size, (float) (clusterLogit - logNorm));
                }
            }
        }

        /** head[0..N) = h · W_head + b_head. */
        private void headForward(State s, long top) {
            Adaptive ad = w.adaptive();
            RowKernels.vectorTimesMatrix(s.xh, top, w.hidden(), ad.headWeight(), 0, ad.clusters().headSize(), ad.headBias(), 0,
                    head, 0);
        }

        /** Cluster i's logits (h · P_i) · O_i + b_i into {@code out} at {@code at}; returns their log-sum-exp. */
        private double clusterForward(State s, long top, int i, MemorySegment out, long at) {
            Adaptive ad = w.adaptive();
            int d = ad.clusters().projection(i, w.hidden()), size = ad.clusters().size(i, w.vocab());
            RowKernels.vectorTimesMatrix(s.xh, top, w.hidden(), ad.projection()[i], 0, d, w.zeros(), 0, projected, 0);
            RowKernels.vectorTimesMatrix(projected, 0, d, ad.weight()[i], 0, size, ad.bias()[i], 0, out, at);
            return SoftmaxCrossEntropy.logSumExp(out, at, w.zeros(), 0, size, exps, 0);
        }
    }

    /**
     * Several rows: GEMMs on fp32 weights, the output bias added row by row. Where the model has packed
     * copies ({@link PackedFp32}) they run as oneDNN matmuls of this product's own, made on first use
     * for the rows rounded up to {@link #MATMUL_ROWS} (the rows past those in use compute values nobody
     * reads: every output row depends on its own input row only) and released with the product; else
     * OpenBLAS on the fp32 matrices. Either runs on the calling thread's pools (oneDNN: its OpenMP team).
     */
    private static final class Gemm implements Product {
        /** The matmuls' row counts are multiples of this (or the state's rows): a few matmuls serve every count. */
        static final int MATMUL_ROWS = 8;

        private final Weights w;
        private final GemmWeights source;
        private Fp32 fp32;
        /** The packs this product's matmuls were made over (the stepping thread's team's), or null. */
        private PackedFp32 packed;
        private boolean registered;
        /** [matrix: the layers, then the output][(rows + 7) / 8 − 1]: the matmuls made so far. */
        private final PackedMatmul[][] matmuls;
        /** [matrix]: the last row count oneDNN would not share the packed B for, 0 for none. */
        private final int[] unshared;

        Gemm(Weights w, GemmWeights source, int capacity) {
            this.w = w;
            this.source = source;
            this.matmuls = new PackedMatmul[w.layers() + 1][(capacity + MATMUL_ROWS - 1) / MATMUL_ROWS];
            this.unshared = new int[w.layers() + 1];
        }

        private Fp32 fp32() {
            if (fp32 == null) fp32 = source.fp32();
            return fp32;
        }

        /** The packs for the calling thread's team; a product stepped by a team of another size makes its matmuls again. */
        private PackedFp32 packed() {
            PackedFp32 p = source.packed();
            if (p != packed) {
                Matmuls.closeAll(matmuls);
                java.util.Arrays.fill(unshared, 0);
                packed = p;
                if (p != null && !registered) {
                    Matmuls.release(this, matmuls);
                    registered = true;
                }
            }
            return p;
        }

        /**
         * The matmul over packed matrix {@code owner} for {@code rows} rows of a state of {@code stateRows},
         * or null where oneDNN packs B differently for those rows (OpenBLAS then runs them).
         */
        private PackedMatmul matmul(int matrix, PackedMatmul owner, int rows, int stateRows, int lda, int ldc) {
            int bucket = (rows + MATMUL_ROWS - 1) / MATMUL_ROWS - 1;
            int m = Math.min(stateRows, (bucket + 1) * MATMUL_ROWS);
            PackedMatmul mm = matmuls[matrix][bucket];
            if (mm != null && mm.rows() == m) return mm;
            if (mm != null) mm.close();
            matmuls[matrix][bucket] = null;
            if (unshared[matrix] == m) return null;
            try {
                return matmuls[matrix][bucket] = new PackedMatmul(owner, m, lda, ldc);
            } catch (PackedMatmul.LayoutMismatch e) {
                unshared[matrix] = m;
                return null;
            }
        }

        @Override
        public void gates(int l, int rows, State s) {
            int H = w.hidden();
            PackedFp32 p = packed();
            PackedMatmul mm = p == null ? null : matmul(l, p.lstm()[l], rows, s.rows, 2 * H, 4 * H);
            if (mm != null) {
                mm.multiply(s.xh, s.xhRow(l, 0), s.gates, 0);
                return;
            }
            Blas.sgemm(false, false, rows, 4 * H, 2 * H, 1f, s.xh, s.xhRow(l, 0), 2 * H, fp32().lstmWeight()[l], 0, 4 * H,
                    0f, s.gates, 0, 4 * H);
        }

        @Override
        public void logits(int rows, State s) {
            int H = w.hidden(), V = w.vocab();
            long top = s.top(0);
            PackedFp32 p = packed();
            PackedMatmul mm = p == null ? null : matmul(w.layers(), p.softmax(), rows, s.rows, 2 * H, V);
            if (mm != null) {
                mm.multiply(s.xh, top, s.logits, 0);
            } else {
                Fp32 f = fp32();
                if (f.transposed()) {
                    Blas.sgemm(false, true, rows, V, H, 1f, s.xh, top, 2 * H, f.softmaxWeight(), 0, H, 0f, s.logits, 0, V);
                } else {
                    Blas.sgemm(false, false, rows, V, H, 1f, s.xh, top, 2 * H, f.softmaxWeight(), 0, V, 0f, s.logits, 0, V);
                }
            }
            for (int r = 0; r < rows; r++) VectorMath.add(s.logits, (long) r * V, w.softmaxBias(), 0, V);
        }
    }

    /** Closes a product's matmuls once the product is unreachable: they hold native oneDNN objects. */
    private static final class Matmuls {
        private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();

        static void release(Object product, PackedMatmul[][] matmuls) {
            CLEANER.register(product, () -> closeAll(matmuls));
        }

        /** Closes every matmul made so far and forgets it. */
        static void closeAll(PackedMatmul[][] matmuls) {
            for (PackedMatmul[] byRows : matmuls) {
                for (int i = 0; i < byRows.length; i++) {
                    if (byRows[i] != null) byRows[i].close();
                    byRows[i] = null;
                }
            }
        }
    }
}
