package lstmlm.infer;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelShape;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Random-weight models written the way the trainer writes them (weights-only checkpoints), for tests and measurements. */
public final class TestModels {
    private TestModels() {}

    /** Words "<unk>", "<eos>", then "w2", "w3", ...: V words in all. */
    public static List<String> words(int vocab) {
        List<String> words = new ArrayList<>(List.of("<unk>", "<eos>"));
        for (int i = 2; i < vocab; i++) words.add("w" + i);
        return words.subList(0, vocab);
    }

    /** Writes a model with uniform(−scale, scale) weights and nonzero LSTM biases; returns its path. */
    public static Path write(Path dir, int vocab, int hidden, int layers, long seed, float scale) {
        return write(dir, vocab, hidden, layers, false, seed, scale);
    }

    /** The same, tied or not. */
    public static Path write(Path dir, int vocab, int hidden, int layers, boolean tied, long seed, float scale) {
        return write(dir, vocab, hidden, layers, tied, seed, scale, -1, 0f);
    }

    /** The same with these words as the vocabulary (it must hold {@code <unk>} and {@code <eos>}). */
    public static Path writeWords(Path dir, List<String> words, int hidden, int layers, long seed, float scale) {
        return write(dir, words, hidden, layers, false, seed, scale, -1, 0f);
    }

    /** The same, untied, with output bias {@code bias} for word {@code favoured}: a model that predicts it often. */
    public static Path writeFavouring(Path dir, int vocab, int hidden, int layers, long seed, float scale, int favoured, float bias) {
        return write(dir, vocab, hidden, layers, false, seed, scale, favoured, bias);
    }

    /** A model with an adaptive softmax of these cutoffs ("8,20") and div, uniform(−scale, scale) weights. */
    public static Path writeAdaptive(Path dir, int vocab, int hidden, int layers, String cutoffs, int div, long seed, float scale) {
        Config config = Config.load("test", Map.of("vocab_size", Integer.toString(vocab), "hidden_size", Integer.toString(hidden),
                "num_layers", Integer.toString(layers), "softmax", "adaptive", "adaptive_cutoffs", cutoffs,
                "adaptive_div", Integer.toString(div)));
        try (LanguageModel m = new LanguageModel(config.shape())) {
            m.initialize(seed, scale);
            Path file = dir.resolve("adaptive-" + vocab + "-" + hidden + "-" + layers + "-" + cutoffs.replace(',', '_') + "-" + div
                    + "-" + seed + ".safetensors");
            Checkpoint.write(file, config, Vocabulary.of(words(vocab)), m, null, Map.of());
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(Path dir, int vocab, int hidden, int layers, boolean tied, long seed, float scale,
                              int favoured, float bias) {
        return write(dir, words(vocab), hidden, layers, tied, seed, scale, favoured, bias);
    }

    private static Path write(Path dir, List<String> words, int hidden, int layers, boolean tied, long seed, float scale,
                              int favoured, float bias) {
        int vocab = words.size();
        ModelShape shape = new ModelShape(vocab, hidden, layers, tied);
        try (LanguageModel m = new LanguageModel(shape)) {
            m.initialize(seed, scale);
            // training leaves the LSTM biases nonzero; make sure the bias path is exercised
            var rnd = new java.util.SplittableRandom(seed + 1);
            for (int l = 0; l < layers; l++) {
                for (long i = 0; i < 4L * hidden; i++) {
                    m.params.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, m.layout.bias(l) + i,
                            (float) (rnd.nextDouble() - 0.5));
                }
            }
            if (favoured >= 0) {
                m.params.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, m.layout.softmaxBias + favoured, bias);
            }
            Config config = Config.load("test", Map.of("vocab_size", Integer.toString(vocab),
                    "hidden_size", Integer.toString(hidden), "num_layers", Integer.toString(layers),
                    "tie_weights", Boolean.toString(tied)));
            Path file = dir.resolve("model-" + Integer.toHexString(words.hashCode()) + "-" + vocab + "-" + hidden + "-" + layers + (tied ? "-tied-" : "-") + seed
                    + (favoured >= 0 ? "-favouring-" + favoured : "") + ".safetensors");
            Checkpoint.write(file, config, Vocabulary.of(words), m, null, Map.of());
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code write}, then quantized to {@code format} (fp32: the file itself). */
    public static Path write(Path dir, int vocab, int hidden, int layers, boolean tied, long seed, float scale,
                      lstmlm.modelfile.WeightFormat format) {
        Path fp32 = write(dir, vocab, hidden, layers, tied, seed, scale);
        if (format == lstmlm.modelfile.WeightFormat.FP32) return fp32;
        Path out = dir.resolve(fp32.getFileName().toString().replace(".safetensors", "-" + format.key() + ".safetensors"));
        try (lstmlm.modelfile.ModelFile in = lstmlm.modelfile.ModelFile.open(fp32)) {
            lstmlm.modelfile.Quantizer.write(in, out, format);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
