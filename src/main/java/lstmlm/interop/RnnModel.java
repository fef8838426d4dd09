package lstmlm.interop;

import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The tensors of PyTorch's word_language_model {@code RNNModel} with {@code rnn_type='LSTM'}, and their
 * places in this engine's {@link ParameterLayout}. The model: {@code encoder} (nn.Embedding [V, H]),
 * {@code rnn} (nn.LSTM, H to H, L layers: {@code weight_ih_lN} [4H, H], {@code weight_hh_lN} [4H, H],
 * {@code bias_ih_lN} and {@code bias_hh_lN} [4H], gates i, f, g, o), {@code decoder} (nn.Linear H to V:
 * weight [V, H], bias [V]), the decoder's weight the encoder's when tied. The engine's layer weight is
 * [2H, 4H] with the same gate order: rows 0..H-1 are weight_ihᵀ, rows H..2H-1 weight_hhᵀ; its one bias is
 * bias_ih + bias_hh; its softmax weight [H, V] is decoder.weightᵀ.
 *
 * <p>The sum of the two biases cannot be split again, so an import keeps both as {@code source.*}
 * tensors beside the model's ({@link #SOURCE_BIASES}); an export writes them back when they still add up
 * to the model's bias bit for bit (the model was not trained since), else the bias in bias_ih and zeros in
 * bias_hh. Either way the exported model computes what this one does.
 */
public final class RnnModel {
    /** Prefix of the tensors an import keeps for a later export (ModelFile accepts and ignores them). */
    public static final String SOURCE_BIASES = lstmlm.modelfile.ModelFile.SOURCE_PREFIX + "rnn.";

    private RnnModel() {}

    /** A state dict mapped onto the engine's layout. */
    public record Imported(ModelShape shape, float[] params, Map<String, float[]> sourceBiases) {
    }

    /**
     * Maps a state dict, checking every tensor's shape against the example's RNNModel with an LSTM.
     *
     * @throws TorchFileException naming the tensor and shape for any model this engine does not run
     */
    public static Imported toEngine(StateDict dict) {
        String src = dict.source();
        Map<String, StateDict.Tensor> t = withoutPrefix(dict.tensors(), "module."); // a DataParallel model's dict
        StateDict.Tensor encoder = t.get("encoder.weight");
        if (encoder == null) {
            String kind = t.keySet().stream().anyMatch(k -> k.startsWith("transformer_encoder.") || k.startsWith("pos_encoder."))
                    ? " It is the example's TransformerModel; this engine runs its RNNModel with an LSTM." : "";
            throw new TorchFileException(src + " has no tensor 'encoder.weight', so it is not the state dict of PyTorch's"
                    + " word_language_model RNNModel (its tensors: " + TorchFileException.preview(t.keySet()) + ")." + kind);
        }
        for (String k : t.keySet()) {
            if (k.startsWith("rnn.") && k.endsWith("_reverse")) {
                throw new TorchFileException(src + ": tensor '" + TorchFileException.shown(k) + "' " + shape(t.get(k)) + " belongs to a bidirectional LSTM;"
                        + " a language model here runs one direction (bidirectional=False).");
            }
            if (k.startsWith("rnn.weight_hr_l")) {
                throw new TorchFileException(src + ": tensor '" + TorchFileException.shown(k) + "' " + shape(t.get(k)) + " is an LSTM projection (proj_size > 0),"
                        + " which this engine does not have.");
            }
        }
        if (encoder.shape().length != 2) throw new TorchFileException(src + ": 'encoder.weight' has shape " + shape(encoder) + ", not [vocab, size].");
        long vocab = encoder.shape()[0], emsize = encoder.shape()[1];
        StateDict.Tensor hh0 = t.get("rnn.weight_hh_l0");
        if (hh0 == null) {
            throw new TorchFileException(src + " has no tensor 'rnn.weight_hh_l0': the model's rnn is not an nn.LSTM (its tensors: "
                    + TorchFileException.preview(t.keySet()) + ").");
        }
        if (hh0.shape().length != 2 || hh0.shape()[1] < 1) throw new TorchFileException(src + ": 'rnn.weight_hh_l0' has shape " + shape(hh0) + ", not [4 x hidden, hidden].");
        long hidden = hh0.shape()[1];
        if (hh0.shape()[0] != 4 * hidden) {
            long g = hh0.shape()[0] / hidden;
            String kind = hh0.shape()[0] == 3 * hidden ? "a GRU's" : hh0.shape()[0] == hidden ? "a plain RNN's (tanh or relu)" : "not an LSTM's";
            throw new TorchFileException(src + ": 'rnn.weight_hh_l0' has shape " + shape(hh0) + ": " + (g * hidden == hh0.shape()[0] ? g + " x " : "")
                    + hidden + " rows is " + kind + "; this engine runs LSTMs (4 x hidden rows).");
        }
        if (emsize != hidden) {
            throw new TorchFileException(src + ": 'encoder.weight' has shape " + shape(encoder) + " and 'rnn.weight_hh_l0' " + shape(hh0)
                    + ": the embedding size " + emsize + " differs from the hidden size " + hidden
                    + "; this engine needs them equal (train with --emsize equal to --nhid).");
        }
        if (vocab > Integer.MAX_VALUE || hidden > Integer.MAX_VALUE / 4) throw new TorchFileException(src + ": 'encoder.weight' " + shape(encoder) + " is too large.");
        int layers = 0;
        while (t.containsKey("rnn.weight_ih_l" + layers) || t.containsKey("rnn.weight_hh_l" + layers)) layers++;
        int v = (int) vocab, h = (int) hidden;

        Set<String> unused = new LinkedHashSet<>(t.keySet());
        unused.remove("encoder.weight");
        Map<String, float[]> biases = new LinkedHashMap<>();
        List<float[]> weightIh = new ArrayList<>(), weightHh = new ArrayList<>(), bias = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            weightIh.add(expect(t, unused, src, "rnn.weight_ih_l" + l, 4L * h, h).values());
            weightHh.add(expect(t, unused, src, "rnn.weight_hh_l" + l, 4L * h, h).values());
            float[] sum = new float[4 * h];
            for (String which : List.of("ih", "hh")) {
                String name = "rnn.bias_" + which + "_l" + l;
                if (!t.containsKey(name)) continue; // nn.LSTM(bias=False)
                float[] b = expect(t, unused, src, name, 4L * h).values();
                for (int j = 0; j < sum.length; j++) sum[j] += b[j];
                biases.put(name.substring("rnn.".length()), b);
            }
            bias.add(sum);
        }
        StateDict.Tensor decoderWeight = t.get("decoder.weight");
        boolean tied;
        if (decoderWeight == null) {
            tied = true; // safetensors' save_model drops a tied decoder.weight
        } else {
            expect(t, unused, src, "decoder.weight", v, h);
            tied = (decoderWeight.storage() != null && decoderWeight.storage().equals(encoder.storage()))
                    || Arrays.equals(decoderWeight.values(), encoder.values());
        }
        float[] decoderBias = t.containsKey("decoder.bias") ? expect(t, unused, src, "decoder.bias", v).values() : new float[v];
        if (!unused.isEmpty()) {
            throw new TorchFileException(src + " has tensors " + TorchFileException.preview(unused) + " that the word_language_model RNNModel"
                    + " with a " + layers + "-layer LSTM does not have; this engine cannot run them.");
        }
        if (encoder.values().length != (long) v * h) throw new TorchFileException(src + ": 'encoder.weight' " + shape(encoder) + " is inconsistent.");

        ModelShape modelShape;
        try {
            modelShape = new ModelShape(v, h, layers, tied);
        } catch (IllegalArgumentException e) {
            throw new TorchFileException(src + ": " + e.getMessage());
        }
        ParameterLayout layout = new ParameterLayout(modelShape);
        if (layout.size > Integer.MAX_VALUE - 8) throw new TorchFileException(src + ": the model has " + layout.size + " parameters, more than an import holds (2^31).");
        float[] p = new float[(int) layout.size];
        System.arraycopy(encoder.values(), 0, p, (int) layout.embedding, v * h);
        int g = 4 * h;
        for (int l = 0; l < layers; l++) {
            int w = (int) layout.weight(l);
            float[] ih = weightIh.get(l), hh = weightHh.get(l);
            for (int gate = 0; gate < g; gate++) {
                for (int k = 0; k < h; k++) {
                    p[w + k * g + gate] = ih[gate * h + k];
                    p[w + (h + k) * g + gate] = hh[gate * h + k];
                }
            }
            System.arraycopy(bias.get(l), 0, p, (int) layout.bias(l), g);
        }
        if (!tied) {
            float[] dw = decoderWeight.values();
            int sw = (int) layout.softmaxWeight;
            for (int word = 0; word < v; word++) {
                for (int k = 0; k < h; k++) p[sw + k * v + word] = dw[word * h + k];
            }
        }
        System.arraycopy(decoderBias, 0, p, (int) layout.softmaxBias, v);
        return new Imported(modelShape, p, biases);
    }

    /**
     * The state dict of an RNNModel equal to the model at {@code params} (float32, {@link ParameterLayout}
     * order), in the order RNNModel's state_dict() lists it. A tied model's decoder.weight is the very
     * array of encoder.weight, so a writer can store it once.
     *
     * @param sourceBiases the {@code source.rnn.*} tensors of an imported file, by name without the prefix
     *                     (empty for a model trained here)
     */
    public static Map<String, float[]> toPyTorch(ModelShape shape, MemorySegment params, Map<String, float[]> sourceBiases) {
        ParameterLayout layout = new ParameterLayout(shape);
        int v = shape.vocab(), h = shape.hidden(), g = shape.gates();
        Map<String, float[]> out = new LinkedHashMap<>();
        float[] encoder = read(params, layout.embedding, (long) v * h);
        out.put("encoder.weight", encoder);
        for (int l = 0; l < shape.layers(); l++) {
            float[] w = read(params, layout.weight(l), 2L * h * g);
            float[] ih = new float[g * h], hh = new float[g * h];
            for (int gate = 0; gate < g; gate++) {
                for (int k = 0; k < h; k++) {
                    ih[gate * h + k] = w[k * g + gate];
                    hh[gate * h + k] = w[(h + k) * g + gate];
                }
            }
            out.put("rnn.weight_ih_l" + l, ih);
            out.put("rnn.weight_hh_l" + l, hh);
            float[] bias = read(params, layout.bias(l), g);
            float[] bih = sourceBiases.get("bias_ih_l" + l), bhh = sourceBiases.get("bias_hh_l" + l);
            if (!addsUpTo(bih, bhh, bias)) {
                bih = bias;
                bhh = new float[g];
            }
            out.put("rnn.bias_ih_l" + l, bih);
            out.put("rnn.bias_hh_l" + l, bhh);
        }
        if (shape.tied()) {
            out.put("decoder.weight", encoder);
        } else {
            float[] sw = read(params, layout.softmaxWeight, (long) h * v), dw = new float[v * h];
            for (int word = 0; word < v; word++) {
                for (int k = 0; k < h; k++) dw[word * h + k] = sw[k * v + word];
            }
            out.put("decoder.weight", dw);
        }
        out.put("decoder.bias", read(params, layout.softmaxBias, v));
        return out;
    }

    /** Whether the two kept biases still give the model's bias exactly, as the import summed them. */
    private static boolean addsUpTo(float[] ih, float[] hh, float[] bias) {
        if (ih == null && hh == null) return false;
        for (int j = 0; j < bias.length; j++) {
            float sum = 0f;
            if (ih != null) {
                if (ih.length != bias.length) return false;
                sum += ih[j];
            }
            if (hh != null) {
                if (hh.length != bias.length) return false;
                sum += hh[j];
            }
            if (Float.floatToRawIntBits(sum) != Float.floatToRawIntBits(bias[j])) return false;
        }
        return true;
    }

    private static float[] read(MemorySegment params, long offset, long count) {
        return params.asSlice(offset * Float.BYTES, count * Float.BYTES).toArray(JAVA_FLOAT);
    }

    private static StateDict.Tensor expect(Map<String, StateDict.Tensor> t, Set<String> unused, String src, String name, long... dims) {
        StateDict.Tensor x = t.get(name);
        if (x == null) throw new TorchFileException(src + " has no tensor '" + name + "', which an RNNModel of this size has.");
        if (!Arrays.equals(x.shape(), dims)) {
            throw new TorchFileException(src + ": tensor '" + name + "' has shape " + shape(x) + ", where this engine's LSTM needs "
                    + Arrays.toString(dims) + " (embedding and hidden size equal, one direction, no projection).");
        }
        unused.remove(name);
        return x;
    }

    private static String shape(StateDict.Tensor t) {
        return Arrays.toString(t.shape());
    }

    private static Map<String, StateDict.Tensor> withoutPrefix(Map<String, StateDict.Tensor> tensors, String prefix) {
        if (tensors.isEmpty() || !tensors.keySet().stream().allMatch(k -> k.startsWith(prefix))) return tensors;
        Map<String, StateDict.Tensor> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k.substring(prefix.length()), v));
        return out;
    }

}
