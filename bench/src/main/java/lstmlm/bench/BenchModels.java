package lstmlm.bench;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.Quantizer;
import lstmlm.modelfile.WeightFormat;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Model files for the inference benchmarks: a random-weight model of a config's shape, in a weight format. */
final class BenchModels {
    private BenchModels() {}

    /**
     * {@code given} in {@code format} (quantised into {@code dir} unless fp32), or, when {@code given}
     * is empty, a random-weight model of {@code config}'s shape written into {@code dir} first.
     */
    static Path write(Path dir, String config, String given, String format) throws IOException {
        Path file;
        if (given.isEmpty()) {
            file = dir.resolve(config + ".safetensors");
            Config cfg = Config.load(config, Map.of());
            List<String> words = new ArrayList<>();
            for (int i = 0; i < cfg.vocabSize() - 2; i++) words.add("w" + i);
            words.add("<unk>");
            words.add("<eos>");
            try (LanguageModel m = new LanguageModel(cfg.shape())) {
                m.initialize(1, (float) cfg.initScale());
                Checkpoint.write(file, cfg, Vocabulary.of(words), m, null, Map.of());
            }
        } else {
            file = Path.of(given);
        }
        WeightFormat f = WeightFormat.parse(format);
        if (f == WeightFormat.FP32) return file;
        Path compact = dir.resolve(config + "-" + format + ".safetensors");
        try (ModelFile in = ModelFile.open(file)) {
            Quantizer.write(in, compact, f);
        }
        return compact;
    }

    /** Deletes the files of {@code dir} and the folder. */
    static void delete(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) Files.delete(p);
        }
        Files.delete(dir);
    }
}
