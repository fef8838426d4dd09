package lstmlm.infer;

/**
 * A sentence's score: the natural-log probability summed over its {@code tokens} predictions (each
 * word and the closing {@code <eos>}), and how many of its words were outside the vocabulary.
 */
public record SentenceScore(double logProbability, int tokens, int unknownWords) {
    /** exp(−logProbability / tokens), the per-token perplexity. */
    public double perplexity() {
        return Math.exp(-logProbability / tokens);
    }
}
