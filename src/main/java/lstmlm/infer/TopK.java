package lstmlm.infer;

import lstmlm.data.Vocabulary;

/**
 * The most likely next words, best first. Allocate one with the capacity you want and pass it to
 * {@link Session#topK(TopK)} every step: it is refilled in place.
 */
public final class TopK {
    final int[] ids;
    final float[] probabilities;
    int size;
    Vocabulary vocabulary;

    public TopK(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("top-k needs k >= 1, got " + capacity);
        ids = new int[capacity];
        probabilities = new float[capacity];
    }

    public int capacity() {
        return ids.length;
    }

    /** Entries filled (the capacity, or the vocabulary size when that is smaller). */
    public int size() {
        return size;
    }

    public int id(int rank) {
        return ids[check(rank)];
    }

    public float probability(int rank) {
        return probabilities[check(rank)];
    }

    public String word(int rank) {
        return vocabulary.word(ids[check(rank)]);
    }

    private int check(int rank) {
        if (rank < 0 || rank >= size) {
            throw new IndexOutOfBoundsException("rank " + rank + " is out of range: this top-k holds " + size + " words.");
        }
        return rank;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < size; i++) {
            if (i > 0) sb.append(", ");
            sb.append(word(i)).append('=').append(String.format("%.4f", probabilities[i]));
        }
        return sb.append(']').toString();
    }
}
