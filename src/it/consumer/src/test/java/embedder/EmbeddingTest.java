package embedder;

import lstmlm.data.Corpus;
import lstmlm.infer.BatchScorer;
import lstmlm.infer.Model;
import lstmlm.infer.SentenceScore;
import lstmlm.infer.Session;
import lstmlm.train.Config;
import lstmlm.train.Trainer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a program that depends on the engine's artifact gets, and that it can train, load and score. */
class EmbeddingTest {

    @Test
    void theEngineBringsOnlyOpenBlasAndJackson() throws Exception {
        Set<String> resolved = new TreeSet<>();
        Pattern artifact = Pattern.compile("^\\s+([\\w.\\-]+):([\\w.\\-]+):");
        for (String line : Files.readAllLines(Path.of(System.getProperty("dependencyList")))) {
            Matcher m = artifact.matcher(line);
            if (m.find()) resolved.add(m.group(1) + ":" + m.group(2));
        }
        assertEquals(new TreeSet<>(Set.of(
                "lstmlm:lstm-lm",
                "org.bytedeco:openblas",
                "com.fasterxml.jackson.core:jackson-databind",
                "com.fasterxml.jackson.core:jackson-core",
                "com.fasterxml.jackson.core:jackson-annotations")), resolved);
        // and the engine's jar holds no command line
        for (String cli : List.of("lstmlm.cli.Main", "lstmlm.report.MetricsWriter", "picocli.CommandLine",
                "me.tongfei.progressbar.ProgressBar", "org.knowm.xchart.XYChart")) {
            assertThrows(ClassNotFoundException.class, () -> Class.forName(cli), cli);
        }
    }

    @Test
    void trainsAModelThenLoadsItAndScoresASentence() throws Exception {
        Path dir = Files.createDirectories(Path.of(System.getProperty("workDir"), "embedder"));
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 300; i++) text.append(" the cat sat on the mat \n the dog sat on the log \n");
        for (String split : List.of("train", "valid", "test")) {
            Files.writeString(dir.resolve("ptb." + split + ".txt"), text);
        }
        Corpus corpus = Corpus.load(dir);
        Config config = Config.load("test", Map.of("vocab_size", Integer.toString(corpus.vocabulary().size()),
                "hidden_size", "16", "num_steps", "5", "batch_size", "4", "max_grad_norm", "5"));
        Path saved;
        try (Trainer trainer = new Trainer(config, corpus, 1, 1)) {
            trainer.run(1);
            saved = trainer.save(dir);
        }
        try (Model model = Model.load(saved); Session session = model.newSession();
             BatchScorer scorer = model.newBatchScorer(4)) {
            SentenceScore seen = session.score(List.of("the", "cat", "sat", "on", "the", "mat"));
            SentenceScore odd = session.score(List.of("mat", "the", "on", "dog", "the", "cat"));
            assertTrue(seen.logProbability() < 0 && Double.isFinite(seen.logProbability()), seen.toString());
            assertTrue(seen.logProbability() > odd.logProbability(), seen + " vs " + odd);
            double batched = scorer.score(List.of(List.of("the", "cat", "sat", "on", "the", "mat"))).getFirst().logProbability();
            assertEquals(seen.logProbability(), batched, 1e-4 * Math.abs(batched));
        }
    }
}
