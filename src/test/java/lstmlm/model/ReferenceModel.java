package lstmlm.model;

import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;

/**
 * The whole language model written out plainly in double precision, straight from the maths and
 * independent of the engine's buffers and kernels: the yardstick for the gradient checks.
 * Parameters are read from a double[] in {@link ParameterLayout} order.
 */
final class ReferenceModel {
    private final ModelShape shape;
    private final ParameterLayout layout;

    ReferenceModel(ModelShape shape) {
        this.shape = shape;
        this.layout = new ParameterLayout(shape);
    }

    /**
     * The noise a training window applies, as the engine drew it.
     *
     * @param masks          dropout masks, [0] for the embedding, [l+1] for layer l (time-major [T·B×H]); null: none;
     *                       an entry null: that place is not dropped
     * @param recurrentMasks per layer the [B×H] mask on h_{t−1} in the recurrent product; null: none
     * @param wordScale      per row the scale of its word's embedding row; null: none
     * @param weightDecay    the loss gains weightDecay/2·‖θ‖²
     * @param tail           the adaptive softmax's tail dropout: the scale of unit q of row r's projection in cluster i; null: none
     */
    record Noise(float[][] masks, float[][] recurrentMasks, float[] wordScale, double weightDecay, TailMask tail) {
        Noise(float[][] masks, float[][] recurrentMasks, float[] wordScale, double weightDecay) {
            this(masks, recurrentMasks, wordScale, weightDecay, null);
        }
    }

    /** The tail dropout's scale of one projected unit. */
    interface TailMask {
        double scale(int cluster, int row, int unit);
    }

    double loss(double[] p, int[] inputs, int[] targets, int batch, int steps, float[] state, float[][] masks) {
        return loss(p, inputs, targets, batch, steps, state, new Noise(masks, null, null, 0));
    }

    /**
     * Summed cross-entropy of one window (plus the weight-decay term).
     *
     * @param inputs  time-major ids [T·B]
     * @param state   carried state as {@link Window#state()} lays it out: per layer c[B×H] then h[B×H]
     */
    double loss(double[] p, int[] inputs, int[] targets, int batch, int steps, float[] state, Noise noise) {
        int hid = shape.hidden(), v = shape.vocab(), layers = shape.layers();
        int rows = batch * steps;
        float[][] masks = noise.masks();
        double[][] x = new double[rows][hid];
        for (int r = 0; r < rows; r++) {
            double word = noise.wordScale() == null ? 1 : noise.wordScale()[r];
            for (int j = 0; j < hid; j++) {
                x[r][j] = p[(int) (layout.embedding + (long) inputs[r] * hid + j)] * word * mask(masks, 0, r, j, hid);
            }
        }
        for (int l = 0; l < layers; l++) {
            double[][] c = new double[batch][hid], h = new double[batch][hid];
            int base = 2 * l * batch * hid;
            for (int b = 0; b < batch; b++) {
                for (int j = 0; j < hid; j++) {
                    c[b][j] = state[base + b * hid + j];
                    h[b][j] = state[base + batch * hid + b * hid + j];
                }
            }
            int w = (int) layout.weight(l), bias = (int) layout.bias(l), g4 = 4 * hid;
            double[][] out = new double[rows][hid];
            for (int t = 0; t < steps; t++) {
                double[][] hNext = new double[batch][hid];
                for (int b = 0; b < batch; b++) {
                    int r = t * batch + b;
                    double[] z = new double[g4];
                    for (int k = 0; k < g4; k++) {
                        double s = p[bias + k];
                        for (int j = 0; j < hid; j++) s += x[r][j] * p[w + j * g4 + k];
                        for (int j = 0; j < hid; j++) {
                            double rec = noise.recurrentMasks() == null ? 1 : noise.recurrentMasks()[l][b * hid + j];
                            s += h[b][j] * rec * p[w + (hid + j) * g4 + k];
                        }
                        z[k] = s;
                    }
                    for (int j = 0; j < hid; j++) {
                        double i = sigmoid(z[j]), f = sigmoid(z[hid + j] + ModelShape.FORGET_BIAS);
                        double g = Math.tanh(z[2 * hid + j]), o = sigmoid(z[3 * hid + j]);
                        c[b][j] = f * c[b][j] + i * g;
                        hNext[b][j] = o * Math.tanh(c[b][j]);
                        out[r][j] = hNext[b][j] * mask(masks, l + 1, r, j, hid);
                    }
                }
                h = hNext;
            }
            x = out;
        }
        double loss = 0;
        if (shape.adaptive() != null) {
            for (int r = 0; r < rows; r++) loss -= adaptiveLogProbability(p, x[r], targets[r], r, noise.tail());
            return loss + weightDecay(p, noise, batch);
        }
        int sw = (int) layout.softmaxWeight, sb = (int) layout.softmaxBias;
        for (int r = 0; r < rows; r++) {
            double[] logits = new double[v];
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < v; k++) {
                double s = p[sb + k];
                for (int j = 0; j < hid; j++) {
                    s += x[r][j] * (shape.tied() ? p[(int) layout.embedding + k * hid + j] : p[sw + j * v + k]);
                }
                logits[k] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (int k = 0; k < v; k++) sum += Math.exp(logits[k] - max);
            loss += Math.log(sum) + max - logits[targets[r]];
        }
        return loss + weightDecay(p, noise, batch);
    }

    private static double weightDecay(double[] p, Noise noise, int batch) {
        if (noise.weightDecay() <= 0) return 0;
        double sq = 0;
        for (double x2 : p) sq += x2 * x2;
        return noise.weightDecay() / 2 * sq * batch; // the engine's loss is Σ_t mean_b: its gradient is this / B
    }

    /**
     * log P(target | x) of the adaptive softmax, from its definition: a head word's log-softmax over the
     * head logits; a tail word's, that of its cluster's logit in the head plus its own log-softmax inside
     * the cluster, whose logits are (x · P_i) · O_i + b_i.
     */
    double adaptiveLogProbability(double[] p, double[] x, int target) {
        return adaptiveLogProbability(p, x, target, 0, null);
    }

    /** The same with row {@code row}'s projected units in its cluster scaled by the tail dropout ({@code tail} null: none). */
    double adaptiveLogProbability(double[] p, double[] x, int target, int row, TailMask tail) {
        var a = shape.adaptive();
        int hid = shape.hidden(), n0 = a.headSize(), c0 = a.start(0);
        double[] head = new double[n0];
        for (int k = 0; k < n0; k++) {
            double s = p[(int) layout.headBias + k];
            for (int j = 0; j < hid; j++) s += x[j] * p[(int) layout.headWeight + j * n0 + k];
            head[k] = s;
        }
        int cluster = -1;
        for (int i = 0; i < a.clusters(); i++) if (target >= a.start(i)) cluster = i;
        if (cluster < 0) return logSoftmax(head, target);
        int d = a.projection(cluster, hid), size = a.size(cluster, shape.vocab());
        double[] projected = new double[d];
        for (int q = 0; q < d; q++) {
            for (int j = 0; j < hid; j++) projected[q] += x[j] * p[(int) layout.tailProjection(cluster) + j * d + q];
            if (tail != null) projected[q] *= tail.scale(cluster, row, q);
        }
        double[] logits = new double[size];
        for (int k = 0; k < size; k++) {
            double s = p[(int) layout.tailBias(cluster) + k];
            for (int q = 0; q < d; q++) s += projected[q] * p[(int) layout.tailWeight(cluster) + q * size + k];
            logits[k] = s;
        }
        return logSoftmax(head, c0 + cluster) + logSoftmax(logits, target - a.start(cluster));
    }

    private static double logSoftmax(double[] z, int k) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : z) max = Math.max(max, v);
        for (double v : z) sum += Math.exp(v - max);
        return z[k] - max - Math.log(sum);
    }

    private static double mask(float[][] masks, int which, int r, int j, int hid) {
        return masks == null || masks[which] == null ? 1.0 : masks[which][r * hid + j];
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }
}
