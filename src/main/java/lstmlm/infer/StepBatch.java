package lstmlm.infer;

import lstmlm.model.LayerSequence;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.random.RandomGenerator;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Up to {@code capacity} streams (a decoder's hypotheses, many users' sessions) advanced together,
 * one word each per {@link #step}, in one pass over the weights: {@link LayerSequence#stepForward}
 * over the batch's rows, the products as GEMMs. Rows are selected, repeated and reordered by index
 * ({@link #select}, a beam's survivors) without copying weights. Nothing is allocated once warm
 * (the first steps of each row count past a multiple of eight make its oneDNN matmuls). One thread
 * at a time.
 *
 * <p>Past {@link LayerSequence#FEW_ROWS} rows the GEMMs are oneDNN's matmul over copies of the fp32
 * weights packed once per model and OpenMP team size (made on the first such step; where oneDNN is
 * not on the class path, OpenBLAS): they run on the calling thread's OpenMP team
 * ({@code OMP_NUM_THREADS}, or {@code ThreadPolicy.useOpenMpThreads} on that thread).
 *
 * <p>A row's results equal a {@link Session}'s fed the same words bit for bit while one row, or up to
 * {@link LayerSequence#FEW_ROWS} rows of fp32 weights, are in use (the one-row and few-row kernels
 * give the same bits); with more rows, or compact weights, to float rounding (the GEMMs sum in
 * another order).
 */
public final class StepBatch {
    private final Model model;
    private final int capacity, vocab;
    private final LayerSequence.Product product;
    /** The live state and a second one that {@link #select} fills and then swaps in. */
    private LayerSequence.State state, spare;
    private final MemorySegment exps;
    private final NextWords next;
    private final double[] logNormalizer;
    private final boolean[] normalized;
    /** Where the rows' normalisers run: on the caller, or split over threads ({@link #allNormalizers}). */
    private final LayerSequence.ColumnSplit split;
    /** With a split: a scratch row of V floats per {@link LayerSequence.ColumnSplit#BLOCK} of rows, and the range the split runs. */
    private final MemorySegment blockExps;
    private final LayerSequence.ColumnRange normalizeRows;
    private int rows;
    private boolean hasPrediction;

    StepBatch(Model model, int capacity, LayerSequence.ColumnSplit split) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        this.model = model;
        this.split = split;
        this.capacity = capacity;
        this.vocab = model.vocab;
        long stateBytes = LayerSequence.State.bytes(capacity, model.layers, model.hidden, vocab);
        // GC-managed memory, like the scorers' pools: no arena close to stall other threads
        MemorySegment slab = Arena.ofAuto().allocate(2 * stateBytes + 4L * vocab, 64);
        this.state = new LayerSequence.State(slab.asSlice(0, stateBytes), capacity, model.layers, model.hidden, vocab);
        this.spare = new LayerSequence.State(slab.asSlice(stateBytes, stateBytes), capacity, model.layers, model.hidden, vocab);
        this.exps = slab.asSlice(2 * stateBytes, 4L * vocab);
        this.next = new NextWords(vocab, model.zeros, exps);
        this.product = LayerSequence.product(model.weights, capacity, model.gemmWeights);
        this.logNormalizer = new double[capacity];
        this.normalized = new boolean[capacity];
        if (split == LayerSequence.ColumnSplit.ALONE) {
            this.blockExps = null;
            this.normalizeRows = null;
        } else {
            int blocks = (capacity + LayerSequence.ColumnSplit.BLOCK - 1) / LayerSequence.ColumnSplit.BLOCK;
            this.blockExps = Arena.ofAuto().allocate(4L * vocab * blocks, 64);
            this.normalizeRows = this::normalizeRows;
        }
    }

    public int capacity() {
        return capacity;
    }

    /** The rows in use. */
    public int rows() {
        return rows;
    }

    /** {@code rows} streams from the zero state, with no prediction yet. */
    public void start(int rows) {
        model.checkOpen();
        checkRows(rows);
        state.reset();
        this.rows = rows;
        hasPrediction = false;
    }

    /** Feeds word {@code ids[r]} to row r for every row in use: every row's next-word distribution is ready. */
    public void step(int[] ids) {
        model.checkOpen();
        if (rows == 0) throw new IllegalStateException("No rows: call start(rows) first.");
        if (ids.length < rows) throw new IllegalArgumentException(ids.length + " ids for " + rows + " rows.");
        for (int r = 0; r < rows; r++) model.checkId(ids[r]);
        model.enter();
        try {
            LayerSequence.stepForward(model.weights, product, state, ids, rows);
        } finally {
            model.leave();
        }
        java.util.Arrays.fill(normalized, false);
        hasPrediction = true;
    }

    /** Natural log of P(next word of row {@code row} = id). */
    public float logProbability(int row, int id) {
        checkPrediction(row);
        model.checkId(id);
        return (float) (state.logits().getAtIndex(JAVA_FLOAT, state.logitsRow(row) + id) - logNormalizer(row));
    }

    /** Row {@code row}'s whole next-word distribution as log-probabilities, into {@code out[0..V)}. */
    public void logProbabilities(int row, float[] out) {
        checkPrediction(row);
        if (out.length < vocab) {
            throw new IllegalArgumentException("The output array has " + out.length + " elements; the vocabulary has "
                    + vocab + " words.");
        }
        double logZ = logNormalizer(row);
        long at = state.logitsRow(row);
        for (int j = 0; j < vocab; j++) out[j] = (float) (state.logits().getAtIndex(JAVA_FLOAT, at + j) - logZ);
    }

    /** Row {@code row}'s most likely next word (the lowest id among equals). */
    public int argmax(int row) {
        checkPrediction(row);
        return next.argmax(state.logits(), state.logitsRow(row));
    }

    /** Fills {@code into} with row {@code row}'s most likely next words, best first, as {@link Session#topK(TopK)}; returns it. */
    public TopK topK(int row, TopK into) {
        checkPrediction(row);
        return next.topK(state.logits(), state.logitsRow(row), logNormalizer(row), into, model.vocabulary());
    }

    /** Draws row {@code row}'s next word as {@link Session#sample} does: the same draw for the same logits and generator. */
    public int sample(int row, float temperature, int topK, RandomGenerator random) {
        checkPrediction(row);
        return next.sample(state.logits(), state.logitsRow(row), temperature, topK, random);
    }

    /**
     * The rows become rows {@code from[0..rows)} of the rows now in use, state and prediction alike: a
     * beam's survivors (a row may be taken several times, forking it, or dropped). Allocates nothing.
     */
    public void select(int[] from, int rows) {
        model.checkOpen();
        checkRows(rows);
        if (from.length < rows) throw new IllegalArgumentException(from.length + " indices for " + rows + " rows.");
        for (int r = 0; r < rows; r++) {
            if (from[r] < 0 || from[r] >= this.rows) {
                throw new IndexOutOfBoundsException("Row " + from[r] + " is not in use (rows 0.." + (this.rows - 1) + ").");
            }
        }
        spare.selectRows(state, from, rows);
        LayerSequence.State s = state;
        state = spare;
        spare = s;
        for (int r = 0; r < rows; r++) normalized[r] = false;
        this.rows = rows;
    }

    private double logNormalizer(int row) {
        if (!normalized[row]) {
            if (normalizeRows != null) {
                allNormalizers();
            } else {
                logNormalizer[row] = LayerSequence.logNormalizer(state.logits(), state.logitsRow(row), vocab, model.zeros, exps);
                normalized[row] = true;
            }
        }
        return logNormalizer[row];
    }

    /**
     * Every row's normaliser not yet computed, the rows split over the threads: a program that asks
     * one row asks them all, and one pass over V words per row is most of a batched step's time after
     * its GEMMs. Each row's value is the one the caller alone would compute (the same function).
     */
    private void allNormalizers() {
        split.run(rows, normalizeRows);
    }

    /** Rows [from, to): one thread's share, with its block's scratch row. */
    private void normalizeRows(int from, int to) {
        long scratch = (long) vocab * (from / LayerSequence.ColumnSplit.BLOCK);
        for (int r = from; r < to; r++) {
            if (normalized[r]) continue;
            logNormalizer[r] = LayerSequence.logNormalizer(state.logits(), state.logitsRow(r), vocab, model.zeros, blockExps,
                    scratch);
            normalized[r] = true;
        }
    }

    private void checkRows(int rows) {
        if (rows < 1 || rows > capacity) {
            throw new IllegalArgumentException("rows must be 1.." + capacity + " (the capacity), got " + rows);
        }
    }

    private void checkPrediction(int row) {
        model.checkOpen();
        if (!hasPrediction) throw new IllegalStateException("No prediction yet: step first (e.g. with <eos> in every row).");
        if (row < 0 || row >= rows) throw new IndexOutOfBoundsException("Row " + row + " is not in use (rows 0.." + (rows - 1) + ").");
    }
}
