package lstmlm.model;

/**
 * Where a training window drops units, as keep probabilities (1: not there). TensorFlow's tutorial
 * drops the embedding output and every layer's output ({@link #tensorFlow}); Gal &amp; Ghahramani
 * (2016) also drop h<sub>t−1</sub> where it enters the recurrent product and whole words of the
 * embedding, and draw each mask once per sequence of the window, the same at every step
 * ({@code variational}). The recurrent mask is always per sequence (dropping fresh units at every
 * step of the recurrence is what Zaremba et al. found to hurt).
 *
 * @param input      the embedding output (the first layer's input)
 * @param hidden     the output of every layer but the last (the next layer's input)
 * @param output     the last layer's output (the softmax's input)
 * @param recurrent  h<sub>t−1</sub> in z<sub>t</sub> += h<sub>t−1</sub>·W<sub>rec</sub>
 * @param words      word-level embedding dropout: a word's whole row, for every occurrence in a sequence
 * @param tail       the adaptive softmax's tail clusters: each row's projected units, between the projection and
 *                   the cluster's logits (fairseq's {@code adaptive_softmax_dropout} is 1 − this); always a
 *                   fresh mask per token
 */
public record DropoutPlan(float input, float hidden, float output, float recurrent, float words, float tail, boolean variational) {
    public static final DropoutPlan NONE = new DropoutPlan(1f, 1f, 1f, 1f, 1f, false);

    /** A plan that leaves the adaptive softmax's tail clusters alone. */
    public DropoutPlan(float input, float hidden, float output, float recurrent, float words, boolean variational) {
        this(input, hidden, output, recurrent, words, 1f, variational);
    }

    public DropoutPlan {
        for (float k : new float[]{input, hidden, output, recurrent, words, tail}) {
            if (!(k > 0f && k <= 1f)) throw new IllegalArgumentException("keep probabilities must be in (0, 1], got " + k);
        }
    }

    /** TensorFlow's: {@code keep} on the embedding output and on every layer's output, fresh masks at every step. */
    public static DropoutPlan tensorFlow(float keep) {
        return new DropoutPlan(keep, keep, keep, 1f, 1f, false);
    }

    /** Whether the input, a layer output or the tail clusters' units are dropped, which needs the window's mask buffers. */
    boolean masksNeeded() {
        return input < 1f || hidden < 1f || output < 1f || tail < 1f;
    }

    /** This plan with the tail clusters' units kept with probability {@code keep}. */
    public DropoutPlan withTail(float keep) {
        return new DropoutPlan(input, hidden, output, recurrent, words, keep, variational);
    }

    /** The keep probability of layer l's output in a stack of {@code layers}. */
    float outputKeep(int l, int layers) {
        return l == layers - 1 ? output : hidden;
    }
}
