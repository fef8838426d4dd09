package lstmlm.modelfile;

import java.util.ArrayList;
import java.util.List;

/**
 * The adaptive softmax's clusters (Grave et al. 2017, as PyTorch's {@code AdaptiveLogSoftmaxWithLoss}
 * lays them out): word ids are sorted by frequency, so the head holds words [0, c₀) plus one logit per
 * tail cluster, and tail cluster i holds words [cᵢ, cᵢ₊₁) (the last up to V), behind a projection of the
 * hidden size H down to H / divⁱ⁺¹ (at least 1). P(word in cluster i) = P_head(cluster i) · P_i(word).
 *
 * @param cutoffs c₀ &lt; c₁ &lt; … &lt; V: where the head and each tail cluster but the last end
 * @param div     each further cluster's projection is {@code div} times narrower
 */
public record AdaptiveSoftmax(List<Integer> cutoffs, int div) {
    public AdaptiveSoftmax {
        cutoffs = List.copyOf(cutoffs);
        if (cutoffs.isEmpty()) throw new IllegalArgumentException("adaptive_cutoffs is empty: give at least one cutoff, e.g. 2000");
        for (int i = 0; i < cutoffs.size(); i++) {
            if (cutoffs.get(i) < 0 || (i > 0 && cutoffs.get(i) <= cutoffs.get(i - 1))) {
                throw new IllegalArgumentException("adaptive_cutoffs " + cutoffs + " must be increasing and >= 0");
            }
        }
        if (div < 1) throw new IllegalArgumentException("adaptive_div " + div + " must be >= 1");
    }

    /** Tail clusters: one per cutoff. */
    public int clusters() {
        return cutoffs.size();
    }

    /** Head logits: the head's words, then one per tail cluster. */
    public int headSize() {
        return cutoffs.getFirst() + clusters();
    }

    /** The first word of tail cluster i. */
    public int start(int cluster) {
        return cutoffs.get(cluster);
    }

    /** Words in tail cluster i, for a vocabulary of {@code vocab} words. */
    public int size(int cluster, int vocab) {
        return (cluster + 1 < clusters() ? cutoffs.get(cluster + 1) : vocab) - cutoffs.get(cluster);
    }

    /** Tail cluster i's projected size: H / div^(i+1), at least 1. */
    public int projection(int cluster, int hidden) {
        long d = hidden;
        for (int k = 0; k <= cluster && d > 1; k++) d /= div;
        return (int) Math.max(1, d);
    }

    /** The widest cluster's projected size: what a buffer for any cluster's projection needs. */
    public int maxProjection(int hidden) {
        int m = 1;
        for (int i = 0; i < clusters(); i++) m = Math.max(m, projection(i, hidden));
        return m;
    }

    /** The largest cluster's number of words. */
    public int maxSize(int vocab) {
        int m = 1;
        for (int i = 0; i < clusters(); i++) m = Math.max(m, size(i, vocab));
        return m;
    }

    /** The cluster of a word, or -1 for a head word. */
    public int clusterOf(int word) {
        int c = -1;
        for (int i = 0; i < clusters() && word >= cutoffs.get(i); i++) c = i;
        return c;
    }

    /** Checks the cutoffs against a vocabulary: each below its size, so no cluster is empty. */
    public void check(int vocab) {
        if (cutoffs.getLast() >= vocab) {
            throw new IllegalArgumentException("adaptive_cutoffs " + cutoffs + " must all be below the vocabulary size " + vocab
                    + ": the last cluster holds the words from the last cutoff up to it");
        }
    }

    /** The config value of the cutoffs: "2000,10000". */
    public String cutoffsText() {
        return String.join(",", cutoffs.stream().map(String::valueOf).toList());
    }

    /**
     * The adaptive softmax the three config values describe, or null for {@code softmax=full}.
     *
     * @throws IllegalArgumentException naming the key and the problem
     */
    public static AdaptiveSoftmax parse(String softmax, String cutoffs, String div) {
        if (softmax == null || softmax.equals("full")) return null;
        if (!softmax.equals("adaptive")) throw new IllegalArgumentException("softmax '" + softmax + "' is not full or adaptive");
        List<Integer> list = new ArrayList<>();
        if (cutoffs == null || cutoffs.isBlank()) throw new IllegalArgumentException("softmax=adaptive needs adaptive_cutoffs, e.g. 2000,10000");
        for (String s : cutoffs.split(",", -1)) {
            try {
                list.add(Integer.parseInt(s.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("adaptive_cutoffs '" + cutoffs + "' is not a comma-separated list of integers");
            }
        }
        int d;
        try {
            d = Integer.parseInt(div == null ? "4" : div.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("adaptive_div '" + div + "' is not an integer");
        }
        return new AdaptiveSoftmax(list, d);
    }
}
