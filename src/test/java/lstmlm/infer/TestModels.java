package lstmlm.infer;

import lstmlm.model.LanguageModel;
import lstmlm.model.ModelShape;
import lstmlm.model.SafetensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Random-weight models written the way the trainer writes them, for tests and measurements. */
final class TestModels {
    private TestModels() {}

    /** Words "<unk>", "<eos>", then "w2", "w3", ...: V words in all. */
    static List<String> words(int vocab) {
        List<String> words = new ArrayList<>(List.of("<unk>", "<eos>"));
        for (int i = 2; i < vocab; i++) words.add("w" + i);
        return words.subList(0, vocab);
    }

    /** Writes a model with uniform(−scale, scale) weights and nonzero LSTM biases; returns its path. */
    static Path write(Path dir, int vocab, int hidden, int layers, long seed, float scale) {
        ModelShape shape = new ModelShape(vocab, hidden, layers);
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
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "lstm-lm weights v1");
            meta.put("config.hidden_size", Integer.toString(hidden));
            meta.put("config.num_layers", Integer.toString(layers));
            meta.put("config.vocab_size", Integer.toString(vocab));
            meta.put("vocabulary", String.join("\n", words(vocab)));
            Path file = dir.resolve("model-" + vocab + "-" + hidden + "-" + layers + "-" + seed + ".safetensors");
            SafetensorsWriter.write(file, m.layout, m.params, meta);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
