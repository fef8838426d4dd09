package lstmlm.infer;

import lstmlm.modelfile.SafetensorsFile;

import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The model's forward step in plain double precision, read straight from the safetensors file with
 * none of the inference code: the yardstick for sessions and the batch scorer. A bf16 or int8 file
 * is read as the float32 values it stands for (widened, or scale · q, done here from the definition).
 */
final class ReferenceLm {
    final int vocab, hidden, layers;
    private final double[] embedding, softmaxWeight, softmaxBias;
    /** The output projection is the embedding [V×H] (its transpose), not a [H×V] tensor of its own. */
    private final boolean tied;
    private final double[][] weight, bias;
    private double[][] c, h;
    double[] logProbs;

    ReferenceLm(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            long[] shape = f.tensor("embedding").shape();
            vocab = (int) shape[0];
            hidden = (int) shape[1];
            int l = 0;
            while (f.tensors().containsKey("lstm." + l + ".weight")) l++;
            layers = l;
            embedding = read(f, "embedding");
            tied = !f.tensors().containsKey("softmax.weight");
            softmaxWeight = tied ? embedding : read(f, "softmax.weight");
            softmaxBias = read(f, "softmax.bias");
            weight = new double[layers][];
            bias = new double[layers][];
            for (int i = 0; i < layers; i++) {
                weight[i] = read(f, "lstm." + i + ".weight");
                bias[i] = read(f, "lstm." + i + ".bias");
            }
        }
        reset();
    }

    private static double[] read(SafetensorsFile f, String name) {
        var t = f.tensor(name);
        var seg = f.data(name);
        double[] out = new double[(int) t.elements()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> seg.getAtIndex(JAVA_FLOAT.withByteAlignment(1), i);
                case BF16 -> Float.intBitsToFloat(seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT.withByteAlignment(1), i) << 16);
                case I8 -> {
                    long[] dims = t.shape();
                    var scales = f.data(name + ".scale");
                    long o = name.equals("embedding") ? i / dims[1] : i % dims[1]; // per row of the embedding, else per column
                    yield (double) scales.getAtIndex(JAVA_FLOAT.withByteAlignment(1), o) * seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i);
                }
            };
        }
        return out;
    }

    void reset() {
        c = new double[layers][hidden];
        h = new double[layers][hidden];
        logProbs = null;
    }

    void feed(int id) {
        int H = hidden, G = 4 * H;
        double[] x = new double[H];
        for (int j = 0; j < H; j++) x[j] = embedding[id * H + j];
        for (int l = 0; l < layers; l++) {
            double[] z = new double[G];
            for (int k = 0; k < G; k++) {
                double s = bias[l][k];
                for (int j = 0; j < H; j++) s += x[j] * weight[l][j * G + k] + h[l][j] * weight[l][(H + j) * G + k];
                z[k] = s;
            }
            for (int j = 0; j < H; j++) {
                double i = sigmoid(z[j]), f = sigmoid(z[H + j]), g = Math.tanh(z[2 * H + j]), o = sigmoid(z[3 * H + j]);
                c[l][j] = f * c[l][j] + i * g;
                h[l][j] = o * Math.tanh(c[l][j]);
            }
            x = h[l].clone();
        }
        double[] logits = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            double s = softmaxBias[v];
            for (int j = 0; j < H; j++) s += x[j] * (tied ? softmaxWeight[v * H + j] : softmaxWeight[j * vocab + v]);
            logits[v] = s;
            max = Math.max(max, s);
        }
        double sum = 0;
        for (double lg : logits) sum += Math.exp(lg - max);
        double logZ = max + Math.log(sum);
        logProbs = new double[vocab];
        for (int v = 0; v < vocab; v++) logProbs[v] = logits[v] - logZ;
    }

    /** log P(sentence) from a zero state: eos, then the words, each predicted, then eos predicted. */
    double score(int[] ids, int eos) {
        reset();
        feed(eos);
        double sum = 0;
        for (int id : ids) {
            sum += logProbs[id];
            feed(id);
        }
        return sum + logProbs[eos];
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }
}
