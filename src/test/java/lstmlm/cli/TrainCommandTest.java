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
}
