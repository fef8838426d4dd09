package lstmlm.serve;

/**
 * What one request may ask for: bytes of body, sentences per score request, words per sentence or
 * context, words generated, top-k and beam width. Each limit exceeded is a 413 (the body) or a 400
 * with a message that names the limit.
 */
public record Limits(int maxBodyBytes, int maxSentences, int maxWords, int maxGenerateWords, int maxTopK, int maxBeam) {
    public static final Limits DEFAULT = new Limits(1 << 20, 256, 1000, 500, 1000, 32);

    public Limits {
        if (maxBodyBytes < 1 || maxSentences < 1 || maxWords < 1 || maxGenerateWords < 1 || maxTopK < 1 || maxBeam < 1) {
            throw new IllegalArgumentException("every limit must be at least 1");
        }
    }
}
