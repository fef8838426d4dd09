package lstmlm.cli;

import lstmlm.modelfile.SafetensorsFile;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user meets it: exit codes, messages, and what lands on disk. */
class TrainCommandTest {
    @TempDir
    Path dir;

    @Test
    void badInputIsAnErrorThatSaysWhatAndHow() {
        CliRun unknownConfig = CliRun.of("train", "--config", "tiny");
        assertEquals(2, unknownConfig.exit());
        assertTrue(unknownConfig.err().contains("Unknown config 'tiny'"), unknownConfig.err());
        assertTrue(!unknownConfig.err().contains("at lstmlm."), "no stack trace for bad input: " + unknownConfig.err());

        CliRun missingData = CliRun.of("train", "--config", "test", "--data-path", dir.resolve("nowhere").toString());
        assertEquals(2, missingData.exit());
        assertTrue(missingData.err().contains("nowhere") && missingData.err().contains("--data-path"), missingData.err());

        CliRun badKey = CliRun.of("train", "--config", "test", "--set", "hidden=3");
        assertEquals(2, badKey.exit());
        assertTrue(badKey.err().contains("Unknown key 'hidden'"), badKey.err());

        CliRun noConfig = CliRun.of("train");
        assertEquals(2, noConfig.exit());
        assertTrue(noConfig.err().contains("--config"), noConfig.err());
    }

    @Test
    void numericOptionsBelowTheirMinimumAreOneLineErrorsBeforeAnyWork() {
        String model = dir.resolve("absent.safetensors").toString(), nowhere = dir.resolve("nowhere").toString();
        for (String[] args : java.util.List.of(
                new String[]{"bench", "--threads", "0"},
                new String[]{"bench", "--steps", "0"},
                new String[]{"eval", "--model", model, "--threads", "0"},
                new String[]{"score", "--model", model, "--threads", "-2"},
                new String[]{"train", "--config", "test", "--data-path", nowhere, "--threads", "0"},
                new String[]{"train", "--config", "test", "--data-path", nowhere, "--max-epochs", "0"},
                new String[]{"train", "--config", "test", "--data-path", nowhere, "--keep", "0"},
                new String[]{"train", "--config", "test", "--data-path", nowhere, "--checkpoint-every", "-5"})) {
            CliRun r = CliRun.of(args);
            String what = String.join(" ", args) + ": " + r.err();
            assertEquals(2, r.exit(), what);
            assertEquals(1, r.err().strip().lines().count(), what);
            assertTrue(r.err().startsWith("error: --") && r.err().contains(" must be at least "), what);
        }
    }

    @Test
    void trainsTheTestConfigAndSavesWeightsThatLoad() throws Exception {
        Path data = TinyRun.corpus(dir);
        Path save = dir.resolve("out");
        CliRun r = CliRun.of("train", "--config", "test", "--data-path", data.toString(), "--save-path", save.toString(),
                "--threads", "1", "--set", "vocab_size=40");
        // the model gets a class per word of the data: 30 words and <eos>, whatever vocab_size said
        assertTrue(r.out().contains("vocab_size: 31, the vocabulary the data gave (the config said 40)"), r.out());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("OpenBLAS: core "), r.out());
        assertTrue(r.out().contains("Vector species: "), r.out());
        assertTrue(r.out().contains("Parameters: "), r.out());
        assertTrue(r.out().contains("Test Perplexity: "), r.out());
        Path[] files;
        try (var s = Files.list(save)) {
            files = s.filter(p -> p.toString().endsWith(".safetensors")).toArray(Path[]::new);
        }
        assertTrue(files.length >= 1, "a weights file in " + save);
        try (SafetensorsFile f = SafetensorsFile.open(files[0])) {
            assertEquals(31 * 2, f.tensor("embedding").elements());
        }
    }

    /**
     * An adaptive-softmax model end to end on the command line: trained, saved with its head and cluster
     * tensors named, evaluated by {@code lstm eval} from the file to the perplexity training printed, scored
     * by {@code lstm score}, quantized to int8 and evaluated again.
     */
    @Test
    void trainsAndEvaluatesAnAdaptiveSoftmaxModel() throws Exception {
        Path data = TinyRun.corpus(dir);
        Path save = dir.resolve("adaptive");
        CliRun r = CliRun.of("train", "--config", "test", "--data-path", data.toString(), "--save-path", save.toString(),
                "--threads", "2", "--set", "softmax=adaptive", "--set", "adaptive_cutoffs=8,20", "--set", "adaptive_div=2");
        assertEquals(0, r.exit(), r.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Test Perplexity: (\\S+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        Path model = save.resolve("model.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(model)) {
            assertEquals(2 * (8 + 2) , f.tensor("softmax.head.weight").elements(), "H x (8 head words + 2 clusters)");
            assertEquals(2 * 1, f.tensor("softmax.tail.0.proj").elements(), "H=2 / div 2 = 1");
            assertEquals(31 - 20, f.tensor("softmax.tail.1.bias").elements(), "words 20..30");
            assertTrue(!f.tensors().containsKey("softmax.weight"));
        }
        CliRun eval = CliRun.of("eval", "--model", model.toString(), "--data-path", data.toString(), "--threads", "2");
        assertEquals(0, eval.exit(), eval.err());
        assertTrue(eval.out().contains("Test Perplexity: " + m.group(1)), eval.out() + " vs training's " + m.group(1));
        CliRun score = CliRun.of("score", "--model", model.toString(), data.resolve("ptb.test.txt").toString());
        assertEquals(0, score.exit(), score.err());
        Path int8 = dir.resolve("q.safetensors");
        CliRun quantize = CliRun.of("quantize", "--model", model.toString(), "--out", int8.toString(), "--format", "int8");
        assertEquals(0, quantize.exit(), quantize.err());
        CliRun eval8 = CliRun.of("eval", "--model", int8.toString(), "--data-path", data.toString(), "--threads", "2");
        assertEquals(0, eval8.exit(), eval8.err());
    }
}
