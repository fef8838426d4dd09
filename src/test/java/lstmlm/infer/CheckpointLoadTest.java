package lstmlm.infer;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.ModelShape;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Training checkpoints (with their carried state tensor) load through Checkpoint's checks. */
class CheckpointLoadTest {
    @TempDir
    Path dir;

    @Test
    void checkpointWithTrainingStateLoadsAndMatchesTheReference() throws Exception {
        Config config = Config.load("test", Map.of("vocab_size", "30", "hidden_size", "11", "num_layers", "2",
                "batch_size", "3"));
        Vocabulary vocabulary = Vocabulary.of(TestModels.words(30));
        Path file = dir.resolve("ckpt.safetensors");
        try (LanguageModel m = new LanguageModel(new ModelShape(30, 11, 2))) {
            m.initialize(5, 0.4f);
            float[] state = new float[2 * 2 * 3 * 11];
            java.util.Arrays.fill(state, 0.25f);
            var progress = new Checkpoint.Progress(5, 0, 1, 10, 1, 1.0, 3.5, config.numSteps(), state, List.of(), List.of(),
                    Double.NaN);
            Checkpoint.write(file, config, vocabulary, m, progress, Map.of());
        }
        ReferenceLm ref = new ReferenceLm(file);
        try (Model model = Model.load(file); Session s = model.newSession()) {
            assertEquals(30, model.vocabularySize());
            assertEquals(2, model.layers());
            for (int id : new int[]{1, 4, 9}) {
                s.feed(id);
                ref.feed(id);
                for (int v = 0; v < 30; v++) assertEquals(ref.logProbs[v], s.logProbability(v), 2e-4);
            }
        }
        // a corrupted byte fails Checkpoint's checksum, named as a model file problem
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 5] ^= 0x40;
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, bytes);
        assertThrows(ModelFileException.class, () -> Model.load(bad));
        assertThrows(ModelFileException.class, () -> Model.load(dir.resolve("missing.safetensors")));
    }
}
