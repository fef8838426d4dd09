package lstmlm.train;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelShape;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Run in a child JVM by {@link CrashTest}: writes checkpoints into a folder as fast as it can,
 * the weights of step n being {@code initialize(n)}, until it is killed.
 */
public final class CheckpointWriterLoop {
    static final Config CONFIG = TinyRun.config().withOverrides(Map.of("vocab_size", "2000", "hidden_size", "128"));

    static Vocabulary vocabulary() {
        List<String> words = new ArrayList<>();
        for (int i = 0; i < CONFIG.vocabSize(); i++) words.add("w" + i);
        return Vocabulary.of(words);
    }

    static Checkpoint.Progress progress(long step) {
        float[] state = new float[2 * CONFIG.numLayers() * CONFIG.batchSize() * CONFIG.hiddenSize()];
        java.util.Arrays.fill(state, step);
        return new Checkpoint.Progress(7, 0, 1, 10, step, CONFIG.learningRate(0), 1.5, CONFIG.numSteps(), state,
                List.of(), List.of(), Double.NaN);
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        long step = Long.parseLong(args[1]);
        CheckpointStore store = CheckpointStore.open(dir, 2);
        Vocabulary vocabulary = vocabulary();
        try (LanguageModel m = new LanguageModel(new ModelShape(CONFIG.vocabSize(), CONFIG.hiddenSize(), CONFIG.numLayers()))) {
            while (true) {
                m.initialize(step, 0.1f);
                store.save(CONFIG, vocabulary, m, progress(step));
                step++;
            }
        }
    }
}
