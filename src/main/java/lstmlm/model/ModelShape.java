package lstmlm.model;

/**
 * The sizes that fix the parameter layout: vocabulary V, hidden (= embedding) size H, layers L.
 */
public record ModelShape(int vocab, int hidden, int layers) {
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
    }

    public int gates() {
        return 4 * hidden;
    }
}
