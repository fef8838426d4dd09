package lstmlm.infer;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.FastExp;
import lstmlm.kernels.Int8;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.RowKernels;
import lstmlm.kernels.SoftmaxCrossEntropy;
import lstmlm.kernels.VectorMath;
import lstmlm.model.ModelShape;
import lstmlm.model.WeightFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.random.RandomGenerator;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * One stream of text through a {@link Model}: its own LSTM state and the next-word distribution
 * after the last word fed. A session is used by one thread at a time (any thread); open as many as
 * there are streams. Steps run on the calling thread and allocate nothing once warm: feed, the
 * log-probability of a word, the full distribution into a caller's array, top-k into a reused
 * {@link TopK}, sampling and {@link #copyStateFrom}.
 *
 * <p>A step is the training forward pass on one row: the products run on the one-row kernels
 * ({@link RowKernels}, which stream the weights once), the cell is {@link LstmCell#forward} and the
 * normaliser is {@link SoftmaxCrossEntropy#logSumExp}'s max and {@link FastExp} passes, the very code
 * training evaluates with.
 *
 * <p>A new or {@link #reset} session has a zero state and no prediction yet: feed a word first.
 * Sentences are best started by feeding {@code <eos>}, as in training, where every sentence
 * follows one; {@link #score} does that itself.
 */
public final class Session implements AutoCloseable {
    private final Model model;
    private final int vocab, hidden, layers;
    // copied from the model into final fields: the step loop reads them without indirection
    private final WeightFormat format;
    private final MemorySegment embedding, embeddingScale, softmaxWeight, softmaxScale, softmaxBias, zeros;
    private final MemorySegment[] lstmWeight, lstmScale, lstmBias;
    private final boolean transposedSoftmax;

    /** Per layer [input | h], 2H floats: the one vector the layer's [2H×4H] weight multiplies. */
    private final MemorySegment inputAndH;
    /** Per layer two cell states, used in turn (the cell kernel must not write c over cPrev). */
    private final MemorySegment cells;
    private final MemorySegment gates;
    /** tanh(c) of the last cell step: the cell kernel writes it for training's backward; unused here. */
    private final MemorySegment tanhC;
    /** Logits of the next word, the output bias included. */
    private final MemorySegment logits;
    /** Exponentials: the normaliser's, then whatever probabilities or sampling needed last. */
    private final MemorySegment exps;
    /** All of the buffers above: one slab of the model's session pool. */
    private final MemorySegment slab;
    private int cellParity;
    private boolean hasPrediction;
    private boolean normalized;
    /** log Σ exp(logits) = normMax + log(normSum), and whether {@link #exps} still holds exp(logit − normMax). */
    private double logNormalizer;
    private float normMax, normSum;
    private boolean expsHoldNormaliser;
    private boolean closed;

    // top-k's heap, grown on first use
    private int[] heapIds = new int[0];
    private float[] heapLogits = new float[0];

    Session(Model model) {
        this.model = model;
        this.vocab = model.vocab;
        this.hidden = model.hidden;
        this.layers = model.layers;
        this.format = model.format;
        this.embedding = model.embedding;
        this.embeddingScale = model.embeddingScale;
        this.softmaxWeight = model.softmaxWeight;
        this.softmaxScale = model.softmaxScale;
        this.softmaxBias = model.softmaxBias;
        this.lstmWeight = model.lstmWeight.clone();
        this.lstmScale = model.lstmScale.clone();
        this.lstmBias = model.lstmBias.clone();
        this.transposedSoftmax = model.transposedSoftmax;
        this.zeros = model.zeros;
        // one slab from the model's pool (see ScratchPool): close() gives it back; a session never
        // closed is garbage-collected with it
        this.slab = model.sessionScratch.take();
        ScratchPool.Cutter cut = new ScratchPool.Cutter(slab);
        this.inputAndH = cut.next(4L * layers * 2 * hidden);
        this.cells = cut.next(4L * layers * 2 * hidden);
        this.gates = cut.next(4L * 4 * hidden);
        this.tanhC = cut.next(4L * hidden);
        this.logits = cut.next(4L * vocab);
        this.exps = cut.next(4L * vocab);
    }

    /** The slab bytes a session of this shape needs: the constructor's pieces, measured. */
    static long scratchBytes(int layers, int hidden, int vocab) {
        ScratchPool.Cutter cut = new ScratchPool.Cutter(null);
        cut.next(4L * layers * 2 * hidden);
        cut.next(4L * layers * 2 * hidden);
        cut.next(4L * 4 * hidden);
        cut.next(4L * hidden);
        cut.next(4L * vocab);
        cut.next(4L * vocab);
        return cut.size();
    }

    public Model model() {
        return model;
    }

    /** Feeds one word: the state advances and the next-word distribution is ready. */
    public void feed(int id) {
        checkUsable();
        model.checkId(id);
        step(id);
    }

    /** Feeds one word; a word outside the vocabulary is fed as {@code <unk>}. */
    public void feed(String word) {
        checkUsable();
        step(model.idOrUnk(word));
    }

    private void step(int id) {
        final int H = hidden;
        final long rowBytes = 4L * H;
        switch (format) {
            case FP32 -> MemorySegment.copy(embedding, id * rowBytes, inputAndH, 0, rowBytes);
            case BF16 -> Bf16.toFloats(embedding, (long) id * H, inputAndH, 0, H);
            case INT8 -> Int8.dequantizeRow(embedding, (long) id * H, embeddingScale.getAtIndex(JAVA_FLOAT, id), H, inputAndH, 0);
        }
        final int prev = cellParity, next = prev ^ 1;
        for (int l = 0; l < layers; l++) {
            final long xh = 2L * H * l;
            switch (format) {
                case FP32 -> RowKernels.vectorTimesMatrix(inputAndH, xh, 2 * H, lstmWeight[l], 0, 4 * H, zeros, 0, gates, 0);
                case BF16 -> RowKernels.vectorTimesMatrixBf16(inputAndH, xh, 2 * H, lstmWeight[l], 0, 4 * H, zeros, 0, gates, 0);
                case INT8 -> RowKernels.vectorTimesMatrixInt8(inputAndH, xh, 2 * H, lstmWeight[l], 0, 4 * H, lstmScale[l], 0,
                        zeros, 0, gates, 0);
            }
            // h goes straight into this layer's recurrent slot: the gates already hold the old h's product
            LstmCell.forward(gates, 0, lstmBias[l], 0, cells, (2L * l + prev) * H, cells, (2L * l + next) * H,
                    tanhC, 0, inputAndH, xh + H, 1, H, ModelShape.FORGET_BIAS);
            if (l + 1 < layers) {
                MemorySegment.copy(inputAndH, (xh + H) * 4, inputAndH, (xh + 2L * H) * 4, rowBytes);
            }
        }
        cellParity = next;
        final long top = 2L * H * (layers - 1) + H;
        if (transposedSoftmax) {
            if (format == WeightFormat.FP32) {
                RowKernels.matrixTimesVector(softmaxWeight, 0, vocab, H, inputAndH, top, softmaxBias, 0, logits, 0);
            } else {
                RowKernels.matrixTimesVectorCompact(softmaxWeight, 0, format == WeightFormat.INT8, vocab, H, inputAndH, top,
                        softmaxScale, 0, softmaxBias, 0, logits, 0);
            }
        } else {
            switch (format) {
                case FP32 -> RowKernels.vectorTimesMatrix(inputAndH, top, H, softmaxWeight, 0, vocab, softmaxBias, 0, logits, 0);
                case BF16 -> RowKernels.vectorTimesMatrixBf16(inputAndH, top, H, softmaxWeight, 0, vocab, softmaxBias, 0, logits, 0);
                case INT8 -> RowKernels.vectorTimesMatrixInt8(inputAndH, top, H, softmaxWeight, 0, vocab, softmaxScale, 0,
                        softmaxBias, 0, logits, 0);
            }
        }
        hasPrediction = true;
        normalized = false;
    }

    /**
     * log Σ exp(logits), computed once per step and only when asked for: {@link SoftmaxCrossEntropy#logSumExp}'s
     * two passes, kept apart so {@link #probabilities} can reuse the exponentials the second leaves.
     */
    private double logNormalizer() {
        if (!normalized) {
            normMax = SoftmaxCrossEntropy.max(logits, 0, zeros, 0, vocab);
            normSum = FastExp.expSum(1f, logits, 0, zeros, 0, normMax, exps, 0, vocab);
            logNormalizer = normMax + Math.log(normSum);
            normalized = true;
            expsHoldNormaliser = true;
        }
        return logNormalizer;
    }

    /** Whether a word has been fed since the last reset, so there is a next-word distribution. */
    public boolean hasPrediction() {
        return hasPrediction;
    }

    /** Natural log of P(next word = id | everything fed so far). */
    public float logProbability(int id) {
        checkPrediction();
        model.checkId(id);
        return (float) logProb(id);
    }

    /** The log-probability in double, as training's loss computes it (logit − log-normaliser). */
    private double logProb(int id) {
        return logits.getAtIndex(JAVA_FLOAT, id) - logNormalizer();
    }

    /** The same for a word; outside the vocabulary it is the probability of {@code <unk>}. */
    public float logProbability(String word) {
        checkPrediction();
        return logProbability(model.idOrUnk(word));
    }

    /** Writes the whole next-word distribution into {@code out[0..V)} (probabilities summing to 1). */
    public void probabilities(float[] out) {
        checkPrediction();
        if (out.length < vocab) {
            throw new IllegalArgumentException("The output array has " + out.length + " elements; the vocabulary has "
                    + vocab + " words.");
        }
        logNormalizer();
        if (!expsHoldNormaliser) FastExp.expSum(1f, logits, 0, zeros, 0, normMax, exps, 0, vocab);
        expsHoldNormaliser = true;
        VectorMath.scaleInto(exps, 0, vocab, 1f / normSum, out);
    }

    /** The whole next-word distribution in a new array. */
    public float[] probabilities() {
        float[] out = new float[vocab];
        probabilities(out);
        return out;
    }

    /** The k most likely next words in a new {@link TopK}. */
    public TopK topK(int k) {
        return topK(new TopK(k));
    }

    /** Fills {@code into} with its capacity's worth of most likely next words, best first; returns it. */
    public TopK topK(TopK into) {
        checkPrediction();
        int k = Math.min(into.capacity(), vocab);
        selectTop(k);
        double logZ = logNormalizer();
        for (int i = 0; i < k; i++) {
            into.ids[i] = heapIds[i];
            into.probabilities[i] = (float) StrictMath.exp(heapLogits[i] - logZ);
        }
        into.size = k;
        into.vocabulary = model.vocabulary();
        return into;
    }

    /** The most likely next word. */
    public int argmax() {
        checkPrediction();
        int best = 0;
        float bestLogit = logits.getAtIndex(JAVA_FLOAT, 0);
        for (int i = 1; i < vocab; i++) {
            float v = logits.getAtIndex(JAVA_FLOAT, i);
            if (v > bestLogit) {
                bestLogit = v;
                best = i;
            }
        }
        return best;
    }

    /**
     * Draws the next word from the distribution sharpened (temperature below 1) or flattened (above 1)
     * by {@code temperature}, restricted to the {@code topK} most likely words when topK > 0.
     * Temperature 0 picks the most likely word. Does not feed the word.
     */
    public int sample(float temperature, int topK, RandomGenerator random) {
        checkPrediction();
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0: the whole vocabulary), got " + topK);
        if (temperature == 0f) return argmax();
        float inverse = 1f / temperature;
        if (topK > 0 && topK < vocab) {
            selectTop(topK);
            float max = heapLogits[0];
            double total = 0;
            for (int i = 0; i < topK; i++) total += StrictMath.exp((heapLogits[i] - max) * inverse);
            double u = random.nextDouble() * total, cumulative = 0;
            for (int i = 0; i < topK; i++) {
                cumulative += StrictMath.exp((heapLogits[i] - max) * inverse);
                if (u < cumulative) return heapIds[i];
            }
            return heapIds[topK - 1];
        }
        // exp((logit − max) / temperature), the largest exactly 1
        float shift = SoftmaxCrossEntropy.max(logits, 0, zeros, 0, vocab) * inverse;
        FastExp.expSum(inverse, logits, 0, zeros, 0, shift, exps, 0, vocab);
        expsHoldNormaliser = false;
        double total = 0;
        for (int i = 0; i < vocab; i++) total += exps.getAtIndex(JAVA_FLOAT, i);
        double u = random.nextDouble() * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < vocab; i++) {
            float weight = exps.getAtIndex(JAVA_FLOAT, i);
            if (weight > 0) {
                cumulative += weight;
                last = i;
                if (u < cumulative) return i;
            }
        }
        return last; // rounding left u at the very top: the last word with any weight
    }

    /**
     * The k largest logits into heapIds/heapLogits[0..k), best first (ties: lower id first). A min-heap
     * of size k over one pass of the logits, then heap-sorted in place.
     */
    private void selectTop(int k) {
        if (heapIds.length < k) {
            heapIds = new int[k];
            heapLogits = new float[k];
        }
        int[] ids = heapIds;
        float[] vals = heapLogits;
        int size = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits.getAtIndex(JAVA_FLOAT, i);
            if (size < k) {
                ids[size] = i;
                vals[size] = v;
                siftUp(ids, vals, size++);
            } else if (v > vals[0]) { // equal logits keep the earlier (lower) id
                ids[0] = i;
                vals[0] = v;
                siftDown(ids, vals, 0, size);
            }
        }
        // pop the worst to the end until sorted best first
        for (int end = size - 1; end > 0; end--) {
            swap(ids, vals, 0, end);
            siftDown(ids, vals, 0, end);
        }
    }

    /** Heap order: a is "worse" than b when its logit is lower, or equal with a higher id. */
    private static boolean worse(int[] ids, float[] vals, int a, int b) {
        return vals[a] < vals[b] || (vals[a] == vals[b] && ids[a] > ids[b]);
    }

    private static void siftUp(int[] ids, float[] vals, int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!worse(ids, vals, i, parent)) return;
            swap(ids, vals, i, parent);
            i = parent;
        }
    }

    private static void siftDown(int[] ids, float[] vals, int i, int size) {
        while (true) {
            int left = 2 * i + 1, right = left + 1, worst = i;
            if (left < size && worse(ids, vals, left, worst)) worst = left;
            if (right < size && worse(ids, vals, right, worst)) worst = right;
            if (worst == i) return;
            swap(ids, vals, i, worst);
            i = worst;
        }
    }

    private static void swap(int[] ids, float[] vals, int a, int b) {
        int id = ids[a];
        ids[a] = ids[b];
        ids[b] = id;
        float v = vals[a];
        vals[a] = vals[b];
        vals[b] = v;
    }

    /** Back to the zero state, with no prediction. */
    public void reset() {
        checkUsable();
        inputAndH.fill((byte) 0);
        cells.fill((byte) 0);
        cellParity = 0;
        hasPrediction = false;
        normalized = false;
    }

    /** A new session in exactly this session's state (fork a hypothesis). */
    public Session copy() {
        checkUsable();
        Session s = new Session(model);
        s.copyStateFrom(this);
        return s;
    }

    /** Puts this session in exactly {@code other}'s state, without allocating. Both must share a model. */
    public void copyStateFrom(Session other) {
        checkUsable();
        other.checkUsable();
        if (other.model != model) {
            throw new IllegalArgumentException("Cannot copy state between sessions of different models.");
        }
        if (other == this) return;
        inputAndH.copyFrom(other.inputAndH);
        cells.copyFrom(other.cells);
        logits.copyFrom(other.logits);
        cellParity = other.cellParity;
        hasPrediction = other.hasPrediction;
        normalized = other.normalized;
        logNormalizer = other.logNormalizer;
        normMax = other.normMax;
        normSum = other.normSum;
        expsHoldNormaliser = false; // this session's exponentials are not other's
    }

    /**
     * Scores one sentence from a fresh state: resets, feeds {@code <eos>} (the boundary every training
     * sentence follows), then adds log P(w) for every word and log P(<eos>) for its end. Words outside
     * the vocabulary count as {@code <unk>}. Leaves the session after the sentence's last word.
     */
    public SentenceScore score(List<String> words) {
        checkUsable();
        if (words.isEmpty()) throw new IllegalArgumentException("Cannot score an empty sentence.");
        int[] ids = new int[words.size()];
        int unknown = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = model.vocabulary().id(words.get(i));
            if (id < 0) {
                unknown++;
                id = model.idOrUnk(words.get(i));
            }
            ids[i] = id;
        }
        return score(ids, unknown);
    }

    /**
     * Scores a running text the way training evaluates a split ({@code lstm eval}, TensorFlow's
     * {@code run_epoch} at batch 1): from a fresh state, feeds {@code ids[0..n-2]} one after another,
     * the state carried throughout, and adds log P(ids[t+1]) after each. tokens = n − 1 predictions.
     * Leaves the session after the last word fed.
     */
    public SentenceScore scoreStream(int[] ids) {
        checkUsable();
        if (ids.length < 2) throw new IllegalArgumentException("A stream needs at least two words to predict one, got " + ids.length + ".");
        for (int id : ids) model.checkId(id);
        reset();
        double sum = 0;
        for (int t = 0; t + 1 < ids.length; t++) {
            step(ids[t]);
            sum += logProb(ids[t + 1]);
        }
        return new SentenceScore(sum, ids.length - 1, 0);
    }

    /** {@link #score(List)} for word ids. */
    public SentenceScore score(int[] ids) {
        return score(ids, 0);
    }

    private SentenceScore score(int[] ids, int unknown) {
        checkUsable();
        if (ids.length == 0) throw new IllegalArgumentException("Cannot score an empty sentence.");
        for (int id : ids) model.checkId(id);
        int eos = model.eosIdOrThrow();
        reset();
        step(eos);
        double sum = 0;
        for (int id : ids) {
            sum += logProb(id);
            step(id);
        }
        sum += logProb(eos);
        return new SentenceScore(sum, ids.length + 1, unknown);
    }

    private void checkPrediction() {
        checkUsable();
        if (!hasPrediction) {
            throw new IllegalStateException("No prediction yet: feed a word first (e.g. <eos> to start a sentence).");
        }
    }

    private void checkUsable() {
        if (closed) throw new IllegalStateException("This session is closed.");
        model.checkOpen();
    }

    /**
     * Marks the session unusable and gives its native memory back to the model's pool, for the next
     * session opened. Optional: a session never closed is garbage-collected, memory and all; closing
     * keeps a server that opens many from holding memory until a collection. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        model.sessionScratch.give(slab);
    }
}
