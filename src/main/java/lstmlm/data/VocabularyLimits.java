package lstmlm.data;

/**
 * How a vocabulary is cut from the training split's counts (config keys {@code vocab_max_size} and
 * {@code vocab_min_count}): words seen fewer than {@code minCount} times, and all but the
 * {@code maxSize} most frequent ({@code <unk>} included; 0: no cap), become {@code <unk>}, which
 * is added when the corpus has none. {@link #NONE} keeps every word, as TensorFlow's reader does.
 */
public record VocabularyLimits(int maxSize, int minCount) {
    public static final VocabularyLimits NONE = new VocabularyLimits(0, 1);

    public VocabularyLimits {
        if (maxSize < 0) throw new IllegalArgumentException("maxSize must be >= 0 (0: no cap), got " + maxSize);
        if (minCount < 1) throw new IllegalArgumentException("minCount must be >= 1, got " + minCount);
    }
}
