package lstmlm.infer;

import lstmlm.model.LayerSequence;

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
 * <p>A step is {@link LayerSequence#stepForward} on one row: the products run on the one-row
 * kernels of the file's format (which stream the weights once), the cell and the normaliser are the
 * kernels training evaluates with. A session from a {@link DynamicBatcher} hands each step to the
 * batcher instead, which runs it in one batched step with other sessions' and wakes this thread.
 *
 * <p>A new or {@link #reset} session has a zero state and no prediction yet: feed a word first.
 * Sentences are best started by feeding {@code <eos>}, as in training, where every sentence
 * follows one; {@link #score} does that itself.
 */
public final class Session implements AutoCloseable {
    private final Model model;
    /** Runs this session's steps batched with other sessions' (null: alone, on the calling thread). */
    private final DynamicBatcher batcher;
    private final DynamicBatcher.Request request;
    private final int vocab;
    private final LayerSequence.Weights weights;
    /** One row: the one-row kernels of the file's format, chosen once. */
    private final LayerSequence.Product product;
    /** The LSTM state and the logits of the next word (the output bias included). */
    private final LayerSequence.State state;
    private final MemorySegment logits, zeros;
    /** Exponentials: the normaliser's, then whatever probabilities or sampling needed last. */
    private final MemorySegment exps;
    /** All of the buffers above: one slab of the model's session pool. */
    private final MemorySegment slab;
    private final int[] word = new int[1];
    private boolean hasPrediction;
    private boolean normalized;
    /** log Σ exp(logits) = normMax + log(normSum), and whether {@link #exps} still holds exp(logit − normMax). */
    private double logNormalizer;
    private float normMax, normSum;
    private boolean expsHoldNormaliser;
    private boolean closed;
    /**
     * An adaptive softmax answers one word's log-probability without the logits row ({@link LayerSequence.PartialOutput});
     * then a step leaves the row unwritten until something needs it. Null for a full softmax.
     */
    private final LayerSequence.PartialOutput partial;
    /** Whether the logits row holds this step's values: false only after an adaptive step whose row nothing needed yet. */
    private boolean logitsReady;

    /** Argmax, top-k and draws over the logits. */
    private final NextWords next;

    Session(Model model) {
        this(model, null, LayerSequence.ColumnSplit.ALONE);
    }

    Session(Model model, DynamicBatcher batcher) {
        this(model, batcher, LayerSequence.ColumnSplit.ALONE);
    }

    /** {@code split}: how the one-row products' columns run (a {@link StepThreads}, or alone on the caller). */
    Session(Model model, DynamicBatcher batcher, LayerSequence.ColumnSplit split) {
        this.model = model;
        this.batcher = batcher;
        this.request = batcher == null ? null : new DynamicBatcher.Request(this);
        this.vocab = model.vocab;
        this.weights = model.weights;
        this.zeros = model.zeros;
        this.product = LayerSequence.product(weights, 1, model.gemmWeights, split);
        this.partial = product instanceof LayerSequence.PartialOutput p ? p : null;
        // one slab from the model's pool (see ScratchPool): close() gives it back; a session never
        // closed is garbage-collected with it
        this.slab = model.sessionScratch.take();
        long stateBytes = LayerSequence.State.bytes(1, model.layers, model.hidden, vocab);
        this.state = new LayerSequence.State(slab.asSlice(0, stateBytes), 1, model.layers, model.hidden, vocab);
        this.logits = state.logits();
        this.exps = slab.asSlice(stateBytes, 4L * vocab);
        this.next = new NextWords(vocab, zeros, exps);
    }

    /** The LSTM state and logits, which a {@link DynamicBatcher} gathers into its batch and scatters back. */
    LayerSequence.State state() {
        return state;
    }

    /** The slab bytes a session of this shape needs: its state, then the exponentials. */
    static long scratchBytes(int layers, int hidden, int vocab) {
        return LayerSequence.State.bytes(1, layers, hidden, vocab) + 4L * vocab;
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
        if (batcher != null) {
            batcher.step(request, id);
            logitsReady = true;
        } else if (partial != null) {
            word[0] = id;
            LayerSequence.stepLayers(weights, product, state, word, 1);
            partial.invalidate();
            logitsReady = false;
        } else {
            word[0] = id;
            LayerSequence.stepForward(weights, product, state, word, 1);
            logitsReady = true;
        }
        hasPrediction = true;
        normalized = false;
    }

    /** The logits row of this step, written now if the step left it for later. */
    private void ensureLogits() {
        if (!logitsReady) {
            product.logits(1, state);
            logitsReady = true;
        }
    }

    /**
     * log Σ exp(logits), computed once per step and only when asked for: {@link SoftmaxCrossEntropy#logSumExp}'s
     * two passes, kept apart so {@link #probabilities} can reuse the exponentials the second leaves.
     */
    private double logNormalizer() {
        ensureLogits();
        if (!normalized) {
            normMax = LayerSequence.max(logits, 0, vocab, zeros);
            normSum = LayerSequence.expSum(1f, logits, 0, vocab, zeros, normMax, exps);
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
        if (!logitsReady) return partial.logProbability(state, id); // the head and this word's cluster only
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
        if (!expsHoldNormaliser) LayerSequence.expSum(1f, logits, 0, vocab, zeros, normMax, exps);
        expsHoldNormaliser = true;
        LayerSequence.scaleInto(exps, vocab, 1f / normSum, out);
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
        return next.topK(logits, 0, logNormalizer(), into, model.vocabulary());
    }

    /** The most likely next word (the lowest id among equals). */
    public int argmax() {
        checkPrediction();
        ensureLogits();
        return next.argmax(logits, 0);
    }

    /**
     * Draws the next word from the distribution sharpened (temperature below 1) or flattened (above 1)
     * by {@code temperature}, restricted to the {@code topK} most likely words when topK > 0.
     * Temperature 0 picks the most likely word. Does not feed the word.
     */
    public int sample(float temperature, int topK, RandomGenerator random) {
        checkPrediction();
        ensureLogits();
        int id = next.sample(logits, 0, temperature, topK, random);
        if (temperature > 0f && (topK == 0 || topK >= vocab)) expsHoldNormaliser = false; // the draw used them
        return id;
    }

    /** Back to the zero state, with no prediction. */
    public void reset() {
        checkUsable();
        state.reset();
        hasPrediction = false;
        normalized = false;
        logitsReady = true; // no prediction: nothing to compute
        if (partial != null) partial.invalidate();
    }

    /** A new session in exactly this session's state (fork a hypothesis). */
    public Session copy() {
        checkUsable();
        Session s = new Session(model, batcher);
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
        other.ensureLogits(); // the logits row travels with the state
        state.copyFrom(other.state);
        logitsReady = true;
        if (partial != null) partial.invalidate();
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
        Model.Ids ids = model.ids(words);
        return score(ids.ids(), ids.unknown());
    }

    /** {@link #score(List)} for word ids. */
    public SentenceScore score(int[] ids) {
        return score(ids, 0);
    }

    /**
     * {@link #score(List)}, also writing each token's log-probability into {@code tokenLogProbabilities}
     * (the words', then {@code <eos>}'s: words + 1 entries); the sum is the same.
     */
    public SentenceScore score(List<String> words, float[] tokenLogProbabilities) {
        checkUsable();
        if (words.isEmpty()) throw new IllegalArgumentException("Cannot score an empty sentence.");
        if (tokenLogProbabilities.length < words.size() + 1) {
            throw new IllegalArgumentException("The array has " + tokenLogProbabilities.length + " elements; a sentence of "
                    + words.size() + " words has " + (words.size() + 1) + " tokens.");
        }
        Model.Ids ids = model.ids(words);
        return score(ids.ids(), ids.unknown(), tokenLogProbabilities);
    }

    private SentenceScore score(int[] ids, int unknown) {
        return score(ids, unknown, null);
    }

    private SentenceScore score(int[] ids, int unknown, float[] perToken) {
        checkUsable();
        if (ids.length == 0) throw new IllegalArgumentException("Cannot score an empty sentence.");
        for (int id : ids) model.checkId(id);
        int eos = model.eosIdOrThrow();
        reset();
        step(eos);
        double sum = 0;
        for (int i = 0; i < ids.length; i++) {
            double lp = logProb(ids[i]);
            if (perToken != null) perToken[i] = (float) lp;
            sum += lp;
            step(ids[i]);
        }
        double end = logProb(eos);
        if (perToken != null) perToken[ids.length] = (float) end;
        sum += end;
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
