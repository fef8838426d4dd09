package lstmlm.modelfile;

/**
 * What fixes the parameter layout: vocabulary V, hidden (= embedding) size H, layers L, and whether
 * the output projection is the embedding's transpose ({@code tied}: Inan et al. 2017, Press &amp;
 * Wolf 2017). The embedding size always equals the last layer's, so tying needs no projection.
 * {@code adaptive}: the output layer is an adaptive softmax with these clusters, or null for a full
 * softmax over V words. A tied model has a full softmax.
 */
public record ModelShape(int vocab, int hidden, int layers, boolean tied, AdaptiveSoftmax adaptive) {
    /**
     * Added to the forget gate's pre-activation in every LSTM cell, training and inference alike.
     * TensorFlow's tutorial builds BasicLSTMCell with forget_bias = 0, and so do we.
     */
    public static final float FORGET_BIAS = 0f;

    public ModelShape {
        if (vocab < 1 || hidden < 1 || layers < 1) {
            throw new IllegalArgumentException("model sizes must be positive: vocab=" + vocab
                    + " hidden=" + hidden + " layers=" + layers);
        }
        // the gate width 4H is an int everywhere, and the layout's offsets are longs
        if (hidden > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("hidden size " + hidden + " is too large: 4 x hidden must fit in 31 bits");
        }
        if (adaptive != null) {
            if (tied) throw new IllegalArgumentException("tie_weights=true needs softmax=full: the adaptive softmax's clusters are not the embedding");
            adaptive.check(vocab);
        }
        try {
            ParameterLayout.count(vocab, hidden, layers, tied, adaptive);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("a model with vocab=" + vocab + " hidden=" + hidden + " layers=" + layers
                    + " has more parameters than 64-bit offsets can address");
        }
    }

    /** An untied model. */
    public ModelShape(int vocab, int hidden, int layers) {
        this(vocab, hidden, layers, false);
    }

    /** A model with a full softmax. */
    public ModelShape(int vocab, int hidden, int layers, boolean tied) {
        this(vocab, hidden, layers, tied, null);
    }

    public int gates() {
        return 4 * hidden;
    }
}
