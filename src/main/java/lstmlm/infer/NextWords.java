package lstmlm.infer;

import lstmlm.model.LayerSequence;

import java.lang.foreign.MemorySegment;
import java.util.random.RandomGenerator;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Choosing among the next words of one logits row: the most likely, the k most likely, or a draw.
 * What a {@link Session} and each row of a {@link StepBatch} do with their logits; one instance per
 * owner (its heap and exponentials are scratch), one thread at a time, nothing allocated once the
 * heap has grown to the largest k asked for.
 */
final class NextWords {
    private final int vocab;
    private final MemorySegment zeros;
    /** exp((logit − max) / temperature) of a full-vocabulary draw: the owner's scratch, overwritten. */
    private final MemorySegment exps;
    /** The top-k heap, best first after {@link #selectTop}. */
    private int[] heapIds = new int[0];
    private float[] heapLogits = new float[0];

    NextWords(int vocab, MemorySegment zeros, MemorySegment exps) {
        this.vocab = vocab;
        this.zeros = zeros;
        this.exps = exps;
    }

    /** The id of the largest logit in the row at {@code at} (the lowest id among equals). */
    int argmax(MemorySegment logits, long at) {
        int best = 0;
        float bestLogit = logits.getAtIndex(JAVA_FLOAT, at);
        for (int i = 1; i < vocab; i++) {
            float v = logits.getAtIndex(JAVA_FLOAT, at + i);
            if (v > bestLogit) {
                bestLogit = v;
                best = i;
            }
        }
        return best;
    }

    /** Fills {@code into} with the row's min(capacity, V) most likely words, best first, given log Σ exp(logits). */
    TopK topK(MemorySegment logits, long at, double logNormalizer, TopK into, lstmlm.data.Vocabulary vocabulary) {
        int k = Math.min(into.capacity(), vocab);
        selectTop(logits, at, k);
        for (int i = 0; i < k; i++) {
            into.ids[i] = heapIds[i];
            into.probabilities[i] = (float) StrictMath.exp(heapLogits[i] - logNormalizer);
        }
        into.size = k;
        into.vocabulary = vocabulary;
        return into;
    }

    /** The i-th best id and logit after {@link #selectTop}. */
    int topId(int i) {
        return heapIds[i];
    }

    float topLogit(int i) {
        return heapLogits[i];
    }

    /**
     * Draws from the row's distribution sharpened (temperature below 1) or flattened (above 1), among
     * the {@code topK} most likely words when topK > 0; temperature 0 is {@link #argmax}. Overwrites
     * the exponentials when it draws from the whole vocabulary.
     */
    int sample(MemorySegment logits, long at, float temperature, int topK, RandomGenerator random) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0: the whole vocabulary), got " + topK);
        if (temperature == 0f) return argmax(logits, at);
        float inverse = 1f / temperature;
        if (topK > 0 && topK < vocab) {
            selectTop(logits, at, topK);
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
        float shift = LayerSequence.max(logits, at, vocab, zeros) * inverse;
        LayerSequence.expSum(inverse, logits, at, vocab, zeros, shift, exps);
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
     * The k largest logits of the row into the heap, best first (ties: lower id first): a min-heap of
     * size k over one pass, then heap-sorted in place.
     */
    void selectTop(MemorySegment logits, long at, int k) {
        if (heapIds.length < k) {
            heapIds = new int[k];
            heapLogits = new float[k];
        }
        int[] ids = heapIds;
        float[] vals = heapLogits;
        int size = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits.getAtIndex(JAVA_FLOAT, at + i);
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
}
