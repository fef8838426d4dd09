package lstmlm.infer;

import lstmlm.blas.Blas;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.model.ModelShape;

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
 * (the GEMMs sum in another order than the one-row kernels), not bit for bit. A step is training's
 * evaluation pass on the batch's rows: OpenBLAS products, {@link LstmCell#forward}, and the output
 * bias added inside {@link SoftmaxCrossEntropy#logSumExp}. A bf16 or int8 model is scored with its
 * weights widened to fp32 once, on the first batch ({@code Model.fp32()}), as a GEMM wants them.
 *
 * <p>One thread at a time per scorer; open one per thread. The GEMMs use OpenBLAS's process-wide
 * thread count ({@link Blas#setThreads}): with several scorers on several threads, or few cores,
 * set it to 1 (measured on a 2-core machine: a 64×800×200 GEMM took 8 ms on 2 threads, 0.23 ms on 1).
 */
public final class BatchScorer implements AutoCloseable {
    private final Model model;
    private final int maxBatch, hidden, vocab, layers;
    private final ScratchPool pool;
    private final MemorySegment slab;
    private final MemorySegment input;   // [B×H] embedding rows of this step
    private final MemorySegment hs;      // per layer [B×H] h, updated in place
    private final MemorySegment cells;   // per layer two [B×H] cell states, used in turn
    private final MemorySegment gates;   // [B×4H]
    private final MemorySegment tanhC;   // [B×H], written by the cell kernel, unused here
    private final MemorySegment logits;  // [B×V], without the output bias
    private final MemorySegment exps;    // [V], the normaliser's exponentials
    private boolean closed;

    BatchScorer(Model model, int maxBatch) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        this.model = model;
        this.maxBatch = maxBatch;
        this.hidden = model.hidden;
        this.vocab = model.vocab;
        this.layers = model.layers;
        // a slab of the model's pool for this batch size (see ScratchPool): GC-managed memory, because
        // closing a shared arena makes the JVM handshake every thread and deoptimise the compiled frames
        // that are inside a scoped memory access, so every close stalled the sessions running on other
        // threads and made them box their vectors (measured by Soak, 16 threads: 69 bytes allocated per
        // session token with shared arenas here, none with this); pooled, so that closing gives it back
        this.pool = model.scorerScratch(maxBatch);
        this.slab = pool.take();
        ScratchPool.Cutter cut = new ScratchPool.Cutter(slab);
        long bh = (long) maxBatch * hidden;
        this.input = cut.next(4 * bh);
        this.hs = cut.next(4 * bh * layers);
        this.cells = cut.next(4 * bh * layers * 2);
        this.gates = cut.next(4 * bh * 4);
        this.tanhC = cut.next(4 * bh);
        this.logits = cut.next(4L * maxBatch * vocab);
        this.exps = cut.next(4L * vocab);
    }

    /** The slab bytes a scorer of this shape needs: the constructor's pieces, measured. */
    static long scratchBytes(int maxBatch, int layers, int hidden, int vocab) {
        ScratchPool.Cutter cut = new ScratchPool.Cutter(null);
        long bh = (long) maxBatch * hidden;
        cut.next(4 * bh);
        cut.next(4 * bh * layers);
        cut.next(4 * bh * layers * 2);
        cut.next(4 * bh * 4);
        cut.next(4 * bh);
        cut.next(4L * maxBatch * vocab);
        cut.next(4L * vocab);
        return cut.size();
    }

    /** Scores sentences of words (outside the vocabulary: {@code <unk>}), results in input order. */
    public List<SentenceScore> score(List<List<String>> sentences) {
        checkUsable();
        int[][] ids = new int[sentences.size()][];
        int[] unknown = new int[sentences.size()];
        for (int s = 0; s < ids.length; s++) {
            List<String> words = sentences.get(s);
            ids[s] = new int[words.size()];
            for (int i = 0; i < ids[s].length; i++) {
                int id = model.vocabulary().id(words.get(i));
                if (id < 0) {
                    unknown[s]++;
                    id = model.idOrUnk(words.get(i));
                }
                ids[s][i] = id;
            }
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
        for (int from = 0; from < order.length; from += maxBatch) {
            int n = Math.min(maxBatch, order.length - from);
            for (int r = 0; r < n; r++) batch[r] = sentences[order[from + r]];
            double[] batchSums = new double[n];
            scoreBatch(batch, n, eos, batchSums);
            for (int r = 0; r < n; r++) sums[order[from + r]] = batchSums[r];
        }
        List<SentenceScore> out = new ArrayList<>(sentences.length);
        for (int s = 0; s < sentences.length; s++) {
            out.add(new SentenceScore(sums[s], sentences[s].length + 1, unknown[s]));
        }
        return out;
    }

    /** Rows sorted longest first; each runs len+1 steps: inputs eos, w1..wn; targets w1..wn, eos. */
    private void scoreBatch(int[][] rows, int n, int eos, double[] sums) {
        final Model.Fp32 weights = model.fp32();
        final int H = hidden, G = 4 * H, V = vocab;
        final long bh = (long) maxBatch * H;
        hs.fill((byte) 0);
        cells.fill((byte) 0);
        int parity = 0;
        int steps = rows[0].length + 1;
        long inputAddr = input.address(), gatesAddr = gates.address(), logitsAddr = logits.address();
        for (int t = 0; t < steps; t++) {
            int active = 0;
            while (active < n && rows[active].length + 1 > t) active++;
            for (int r = 0; r < active; r++) {
                int id = t == 0 ? eos : rows[r][t - 1];
                MemorySegment.copy(weights.embedding(), 4L * id * H, input, 4L * r * H, 4L * H);
            }
            long layerInput = inputAddr;
            for (int l = 0; l < layers; l++) {
                long w = weights.lstmWeight()[l].address();
                long h = hs.address() + 4 * bh * l;
                // z = x·W[0:H] + hPrev·W[H:2H]; the cell then writes the new h over hPrev
                Blas.sgemm(false, false, active, G, H, 1f, layerInput, H, w, G, 0f, gatesAddr, G);
                Blas.sgemm(false, false, active, G, H, 1f, h, H, w + 4L * H * G, G, 1f, gatesAddr, G);
                LstmCell.forward(gates, 0, model.lstmBias[l], 0, cells, bh * (2L * l + parity),
                        cells, bh * (2L * l + (parity ^ 1)), tanhC, 0, hs, bh * l, active, H, ModelShape.FORGET_BIAS);
                layerInput = h;
            }
            parity ^= 1;
            if (weights.transposed()) {
                Blas.sgemm(false, true, active, V, H, 1f, layerInput, H, weights.softmaxWeight().address(), H,
                        0f, logitsAddr, V);
            } else {
                Blas.sgemm(false, false, active, V, H, 1f, layerInput, H, weights.softmaxWeight().address(), V,
                        0f, logitsAddr, V);
            }
            MemorySegment bias = model.softmaxBias;
            for (int r = 0; r < active; r++) {
                int target = t < rows[r].length ? rows[r][t] : eos;
                long row = (long) r * V;
                float logit = logits.getAtIndex(JAVA_FLOAT, row + target) + bias.getAtIndex(JAVA_FLOAT, target);
                sums[r] += logit - SoftmaxCrossEntropy.logSumExp(logits, row, bias, 0, V, exps, 0);
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
