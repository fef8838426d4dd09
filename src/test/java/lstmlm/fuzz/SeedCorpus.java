package lstmlm.fuzz;

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
import java.util.List;
import java.util.Map;

/**
 * Writes the model-file seeds of the fuzz corpora (src/test/resources/lstmlm/fuzz/...Inputs): tiny valid
 * files of each kind the engine reads, so fuzzing starts from the structure rather than from noise.
 * Run it again after a change to the file format: {@code ./mvnw test-compile exec:java} is not set up;
 * use {@code java -cp target/classes:target/test-classes:DEPS lstmlm.fuzz.SeedCorpus src/test/resources}.
 */
public final class SeedCorpus {
    private SeedCorpus() {}

    public static void main(String[] args) throws IOException {
        Path resources = Path.of(args.length > 0 ? args[0] : "src/test/resources");
        Path tmp = Files.createTempDirectory("seeds");
        Vocabulary words = Vocabulary.of(List.of("<unk>", "<eos>", "the", "cat"));
        for (boolean tied : new boolean[]{false, true}) {
            Config config = Config.load("test", Map.of("vocab_size", "4", "hidden_size", "2", "num_layers", "2",
                    "tie_weights", Boolean.toString(tied), "batch_size", "1", "num_steps", "2"));
            try (LanguageModel m = new LanguageModel(config.shape())) {
                m.initialize(7, 0.5f);
                String base = tied ? "tied" : "plain";
                Path fp32 = tmp.resolve(base + "-fp32.safetensors");
                Checkpoint.write(fp32, config, words, m, null, Map.of());
                Path ckpt = tmp.resolve(base + "-checkpoint.safetensors");
                Checkpoint.write(ckpt, config, words, m, new Checkpoint.Progress(1, 0, 1, 3, 1, 1.0, 2.5, 2,
                        new float[2 * 2 * 1 * 2], List.of(), List.of(), Double.NaN), Map.of());
                try (ModelFile in = ModelFile.open(fp32)) {
                    Quantizer.write(in, tmp.resolve(base + "-bf16.safetensors"), WeightFormat.BF16);
                    Quantizer.write(in, tmp.resolve(base + "-int8.safetensors"), WeightFormat.INT8);
                }
            }
        }
        for (String method : List.of("modelFile", "sealedModelFile")) {
            Path dir = Files.createDirectories(resources.resolve("lstmlm/fuzz/ModelFileFuzzTestInputs/" + method));
            try (var files = Files.list(tmp)) {
                for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        System.out.println("seeds written under " + resources.resolve("lstmlm/fuzz"));
    }
}
