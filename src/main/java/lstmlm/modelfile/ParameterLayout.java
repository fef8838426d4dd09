package lstmlm.modelfile;

/**
 * Where each tensor lives inside the one parameter slab (and, identically, the gradient slab).
 * Offsets are in floats.
 *
 * <pre>
 * embedding      [V x H]
 * lstm.l.weight  [2H x 4H]   rows 0..H-1 multiply the layer input, rows H..2H-1 the previous h;
 *                            columns are the gates i | f | g | o, each H wide
 * lstm.l.bias    [4H]
 * softmax.weight [H x V]     (absent when tied: the output projection is embedingᵀ)
 * softmax.bias   [V]
 * </pre>
 * With an adaptive softmax ({@link AdaptiveSoftmax}: head size N = c₀ + clusters, cluster i of
 * Sᵢ words projected to Dᵢ) the two softmax tensors are instead:
 * <pre>
 * softmax.head.weight    [H x N]
 * softmax.head.bias      [N]
 * softmax.tail.i.proj    [H x Dᵢ]
 * softmax.tail.i.weight  [Dᵢ x Sᵢ]
 * softmax.tail.i.bias    [Sᵢ]
 * </pre>
 */
public final class ParameterLayout {
    public final ModelShape shape;
    public final long embedding;
    private final long[] weight, bias;
    /**
     * The softmax weight [H×V]; -1 when tied (then it is the embedding [V×H], transposed). Both -1 with
     * an adaptive softmax, whose tensors are the head's and the tails' below.
     */
    public final long softmaxWeight, softmaxBias;
    /** The adaptive softmax's head [H×N] and bias [N]; -1 with a full softmax. */
    public final long headWeight, headBias;
    /** Per tail cluster: projection [H×Dᵢ], weight [Dᵢ×Sᵢ], bias [Sᵢ]; empty with a full softmax. */
    private final long[] tailProjection, tailWeight, tailBias;
    /**
     * Offset where the dense tensors start: after the embedding, whose gradient has nonzero rows only
     * for the words a window read, or 0 when tied (the softmax's gradient reaches every row).
     */
    public final long denseStart;
    public final long size;

    /**
     * The number of parameters of a model of these sizes, in exact arithmetic: an
     * {@link ArithmeticException} when it does not fit a long ({@link ModelShape} refuses such sizes).
     */
    static long count(long v, long h, int layers, boolean tied, AdaptiveSoftmax adaptive) {
        long perLayer = Math.addExact(Math.multiplyExact(2 * h, 4 * h), 4 * h);
        long n = Math.addExact(Math.multiplyExact(v, h), Math.multiplyExact(perLayer, layers));
        if (adaptive != null) {
            long head = adaptive.headSize();
            n = Math.addExact(n, Math.multiplyExact(h + 1, head));
            for (int i = 0; i < adaptive.clusters(); i++) {
                long d = adaptive.projection(i, (int) h), size = adaptive.size(i, (int) v);
                n = Math.addExact(n, Math.addExact(Math.multiplyExact(h, d), Math.multiplyExact(d + 1, size)));
            }
            return n;
        }
        if (!tied) n = Math.addExact(n, Math.multiplyExact(h, v));
        return Math.addExact(n, v);
    }

    public ParameterLayout(ModelShape shape) {
        this.shape = shape;
        long v = shape.vocab(), h = shape.hidden();
        long at = 0;
        embedding = at;
        at += v * h;
        denseStart = shape.tied() ? 0 : at;
        weight = new long[shape.layers()];
        bias = new long[shape.layers()];
        for (int l = 0; l < shape.layers(); l++) {
            weight[l] = at;
            at += (2 * h) * (4 * h);
            bias[l] = at;
            at += 4 * h;
        }
        AdaptiveSoftmax a = shape.adaptive();
        int clusters = a == null ? 0 : a.clusters();
        tailProjection = new long[clusters];
        tailWeight = new long[clusters];
        tailBias = new long[clusters];
        if (a != null) {
            softmaxWeight = softmaxBias = -1;
            headWeight = at;
            at += h * a.headSize();
            headBias = at;
            at += a.headSize();
            for (int i = 0; i < clusters; i++) {
                long d = a.projection(i, (int) h), s = a.size(i, (int) v);
                tailProjection[i] = at;
                at += h * d;
                tailWeight[i] = at;
                at += d * s;
                tailBias[i] = at;
                at += s;
            }
        } else {
            headWeight = headBias = -1;
            softmaxWeight = shape.tied() ? -1 : at;
            if (!shape.tied()) at += h * v;
            softmaxBias = at;
            at += v;
        }
        size = at;
    }

    public long tailProjection(int cluster) {
        return tailProjection[cluster];
    }

    public long tailWeight(int cluster) {
        return tailWeight[cluster];
    }

    public long tailBias(int cluster) {
        return tailBias[cluster];
    }

    public long weight(int layer) {
        return weight[layer];
    }

    /** The recurrent half of a layer's weight: rows H..2H-1. */
    public long recurrentWeight(int layer) {
        return weight[layer] + (long) shape.hidden() * shape.gates();
    }

    public long bias(int layer) {
        return bias[layer];
    }

    /** One named tensor of the layout, in slab order. */
    public record Tensor(String name, long offset, long[] dims) {
        public long size() {
            long n = 1;
            for (long d : dims) n *= d;
            return n;
        }
    }

    /** Every tensor with its stable name, in slab order (checkpoints use these names). */
    public java.util.List<Tensor> tensors() {
        long v = shape.vocab(), h = shape.hidden();
        var list = new java.util.ArrayList<Tensor>();
        list.add(new Tensor("embedding", embedding, new long[]{v, h}));
        for (int l = 0; l < shape.layers(); l++) {
            list.add(new Tensor("lstm." + l + ".weight", weight[l], new long[]{2 * h, 4 * h}));
            list.add(new Tensor("lstm." + l + ".bias", bias[l], new long[]{4 * h}));
        }
        AdaptiveSoftmax a = shape.adaptive();
        if (a != null) {
            list.add(new Tensor("softmax.head.weight", headWeight, new long[]{h, a.headSize()}));
            list.add(new Tensor("softmax.head.bias", headBias, new long[]{a.headSize()}));
            for (int i = 0; i < a.clusters(); i++) {
                long d = a.projection(i, (int) h), s = a.size(i, (int) v);
                list.add(new Tensor("softmax.tail." + i + ".proj", tailProjection[i], new long[]{h, d}));
                list.add(new Tensor("softmax.tail." + i + ".weight", tailWeight[i], new long[]{d, s}));
                list.add(new Tensor("softmax.tail." + i + ".bias", tailBias[i], new long[]{s}));
            }
            return list;
        }
        if (!shape.tied()) list.add(new Tensor("softmax.weight", softmaxWeight, new long[]{h, v}));
        list.add(new Tensor("softmax.bias", softmaxBias, new long[]{v}));
        return list;
    }
}
