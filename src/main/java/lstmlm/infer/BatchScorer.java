package lstmlm.infer;

import lstmlm.model.LayerSequence;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Scores many sentences for throughput: up to {@code maxBatch} sentences step together, so each
 * weight matrix is read once per step for the whole batch (OpenBLAS GEMMs) instead of once per
 * sentence. Scores mean the same as {@link Session#score}; they agree with it to float rounding
 * (the GEMMs sum in another order than the one-row kernels), not bit for bit. A step is
 * {@link LayerSequence#stepForward} on the batch's rows with OpenBLAS products. A bf16 or int8 model
 * is scored with its weights widened to fp32 once, on the first batch ({@code Model.fp32()}), as a
 * GEMM wants them.
 *
 * <p>One thread at a time per scorer; open one per thread. The GEMMs use OpenBLAS's process-wide
 * thread count: with several scorers on several threads, or few cores, set it to 1 (see
 * docs/performance.md).
 */
public final class BatchScorer implements AutoCloseable {
    private final Model model;
    private final int maxBatch, vocab;
    private final ScratchPool pool;
    private final MemorySegment slab;
    /** OpenBLAS GEMMs over the batch's rows, chosen once. */
    private final LayerSequence.Product product;
    private final LayerSequence.State state;
    private final MemorySegment exps;    // [V], the normaliser's exponentials
    private final int[] words;
    private boolean closed;

    BatchScorer(Model model, int maxBatch) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        this.model = model;
        this.maxBatch = maxBatch;
        this.vocab = model.vocab;
        // a slab of the model's pool for this batch size (see ScratchPool): GC-managed memory, because
        // closing a shared arena makes the JVM handshake every thread and deoptimise the compiled frames
        // that are inside a scoped memory access, so every close stalled the sessions running on other
        // threads and made them box their vectors (Soak, 16 threads); pooled, so that closing gives it back
        this.pool = model.scorerScratch(maxBatch);
        this.slab = pool.take();
        long stateBytes = LayerSequence.State.bytes(maxBatch, model.layers, model.hidden, vocab);
        this.state = new LayerSequence.State(slab.asSlice(0, stateBytes), maxBatch, model.layers, model.hidden, vocab);
        this.exps = slab.asSlice(stateBytes, 4L * vocab);
        this.product = LayerSequence.product(model.weights, Math.max(2, maxBatch), model.gemmWeights);
        this.words = new int[maxBatch];
    }

    /** The slab bytes a scorer of this shape needs: its state, then the exponentials. */
    static long scratchBytes(int maxBatch, int layers, int hidden, int vocab) {
        return LayerSequence.State.bytes(maxBatch, layers, hidden, vocab) + 4L * vocab;
    }

    /** Scores sentences of words (outside the vocabulary: {@code <unk>}), results in input order. */
    public List<SentenceScore> score(List<List<String>> sentences) {
        checkUsable();
        int[][] ids = new int[sentences.size()][];
        int[] unknown = new int[sentences.size()];
        for (int s = 0; s < ids.length; s++) {
            Model.Ids sentence = model.ids(sentences.get(s));
            ids[s] = sentence.ids();
            unknown[s] = sentence.unknown();
        }
        return score(ids, unknown);
    }

    /** Scores sentences of word ids, results in input order. */
    public List<SentenceScore> scoreIds(int[][] sentences) {
        return score(sentences, new int[sentences.length]);
    }

    private List<SentenceScore> score(int[][] sentences, int[] unknown) {
        checkUsable();
        int eos = model.eosIdOrThrow();
        for (int s = 0; s < sentences.length; s++) {
            if (sentences[s].length == 0) {
                throw new IllegalArgumentException("Cannot score an empty sentence (sentence " + s + ").");
            }
            for (int id : sentences[s]) model.checkId(id);
        }
        // longest first: within a batch the rows still running are then always a prefix
        Integer[] order = new Integer[sentences.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -sentences[i].length));
        double[] sums = new double[sentences.length];
        int[][] batch = new int[maxBatch][];
        model.enter();
        try {
            for (int from = 0; from < order.length; from += maxBatch) {
                int n = Math.min(maxBatch, order.length - from);
                for (int r = 0; r < n; r++) batch[r] = sentences[order[from + r]];
                double[] batchSums = new double[n];
                scoreBatch(batch, n, eos, batchSums);
                for (int r = 0; r < n; r++) sums[order[from + r]] = batchSums[r];
            }
        } finally {
            model.leave();
        }
        List<SentenceScore> out = new ArrayList<>(sentences.length);
        for (int s = 0; s < sentences.length; s++) {
            out.add(new SentenceScore(sums[s], sentences[s].length + 1, unknown[s]));
        }
        return out;
    }

    /** Rows sorted longest first; each runs len+1 steps: inputs eos, w1..wn; targets w1..wn, eos. */
    private void scoreBatch(int[][] rows, int n, int eos, double[] sums) {
        state.reset();
        MemorySegment logits = state.logits();
        int steps = rows[0].length + 1;
        for (int t = 0; t < steps; t++) {
            int active = 0;
            while (active < n && rows[active].length + 1 > t) active++;
            for (int r = 0; r < active; r++) words[r] = t == 0 ? eos : rows[r][t - 1];
            LayerSequence.stepForward(model.weights, product, state, words, active);
            for (int r = 0; r < active; r++) {
                int target = t < rows[r].length ? rows[r][t] : eos;
                long row = state.logitsRow(r);
                float logit = logits.getAtIndex(JAVA_FLOAT, row + target);
                sums[r] += logit - LayerSequence.logNormalizer(logits, row, vocab, model.zeros, exps);
            }
        }
    }

    private void checkUsable() {
        if (closed) throw new IllegalStateException("This batch scorer is closed.");
        model.checkOpen();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        pool.give(slab); // for the next scorer of this batch size (see the constructor)
    }
}
