package lstmlm.train;

import lstmlm.data.Corpus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End to end on a small synthetic corpus: the loss falls, the lines are TF's, a seed repeats. */
class TrainerTest {
    @TempDir
    static Path dir;

    static Config tinyConfig(Map<String, String> extra) {
        var overrides = new java.util.HashMap<>(Map.of("hidden_size", "16", "num_steps", "5", "batch_size", "4",
                "vocab_size", "40", "max_max_epoch", "3", "max_epoch", "2", "max_grad_norm", "5",
                "learning_rate", "1.0"));
        overrides.putAll(extra);
        return Config.load("test", overrides);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"fp32", "bf16"})
    void lossFallsAndTheLinesAreTensorFlows(String precision) throws IOException {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Trainer.Result result;
        try (Trainer t = TinyRun.trainer(tinyConfig(Map.of("precision", precision)), corpus, 3, 2,
                new PrintStream(bytes, true, StandardCharsets.UTF_8))) {
            result = t.run(3);
        }
        String log = bytes.toString(StandardCharsets.UTF_8);
        // 30 words + <eos>: uniform perplexity 31; the grammar allows far less
        assertTrue(result.trainPerplexity().get(2) < result.trainPerplexity().get(0), log);
        assertTrue(result.validPerplexity().get(2) < 8, log);
        assertTrue(result.testPerplexity() < 8, log);
        for (String line : log.split("\n")) {
            assertTrue(Pattern.matches("Epoch: \\d+ Learning rate: \\d+\\.\\d{3}"
                    + "|Epoch: \\d+ (Train|Valid) Perplexity: \\d+\\.\\d{3}"
                    + "|\\d\\.\\d{3} perplexity: \\d+\\.\\d{3} speed: \\d+ wps"
                    + "|Test Perplexity: \\d+\\.\\d{3}", line), "not a TensorFlow line: " + line);
        }
        assertTrue(log.contains("Epoch: 3 Learning rate: 0.500"), log);
    }

    @Test
    void aLossThatStopsBeingANumberIsADivergenceThatNamesTheWindowAndTheRemedy() throws IOException {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        try (Trainer t = TinyRun.trainer(tinyConfig(Map.of()), corpus, 3, 1,
                new PrintStream(java.io.OutputStream.nullOutputStream()))) {
            var m = t.engine().model();
            m.params.setAtIndex(JAVA_FLOAT, m.layout.softmaxBias, Float.NaN);
            m.parametersChanged();
            TrainingDivergedException e = org.junit.jupiter.api.Assertions.assertThrows(TrainingDivergedException.class,
                    () -> t.run(1));
            assertTrue(e.getMessage().startsWith("Training diverged: the loss became NaN in epoch 1, window 1 (global step 1)."),
                    e.getMessage());
            assertTrue(e instanceof lstmlm.errors.UserException && e.getMessage().contains("Lower learning_rate"), e.getMessage());
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"fp32", "bf16"})
    void theSameSeedAndThreadsGiveTheSameNumbersAndWeights(String precision) throws IOException {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        Config c = tinyConfig(Map.of("keep_prob", "0.7", "max_max_epoch", "1", "precision", precision));
        float[][] weights = new float[3][];
        Trainer.Result[] results = new Trainer.Result[3];
        long[] seeds = {5, 5, 6};
        for (int i = 0; i < 3; i++) {
            try (Trainer t = TinyRun.trainer(c, corpus, seeds[i], 2, new PrintStream(new ByteArrayOutputStream()))) {
                results[i] = t.run(1);
                weights[i] = t.model().params.toArray(JAVA_FLOAT);
            }
        }
        assertEquals(results[0], results[1]);
        assertArrayEquals(weights[0], weights[1]);
        assertTrue(!results[0].equals(results[2]), "another seed must give other numbers");
    }

    /**
     * A bf16 config trains in oneDNN's bf16 only where the CPU multiplies bf16 natively; elsewhere
     * (oneDNN's reference code on AVX2: over 100x slower) its GEMMs run in fp32 and the run is fp32's
     * bit for bit. On either kind of CPU one of the two assertions below is the one that can fail.
     */
    @Test
    void aBf16ConfigComputesInBf16OnlyOnACpuThatMultipliesBf16() throws IOException {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        Config fp32 = tinyConfig(Map.of("max_max_epoch", "1")), bf16 = tinyConfig(Map.of("max_max_epoch", "1", "precision", "bf16"));
        float[] a, b;
        try (Trainer t = new Trainer(fp32, corpus, 5, 2)) {
            t.run(1);
            a = t.model().params.toArray(JAVA_FLOAT);
        }
        boolean nativeBf16 = lstmlm.natives.OneDnn.nativeBf16();
        try (Trainer t = new Trainer(bf16, corpus, 5, 2)) {
            assertEquals(nativeBf16 ? lstmlm.model.Precision.BF16 : lstmlm.model.Precision.FP32, t.engine().precision());
            assertEquals(lstmlm.model.Precision.BF16, t.config().precision(), "the run stays a bf16 run");
            t.run(1);
            b = t.model().params.toArray(JAVA_FLOAT);
        }
        if (nativeBf16) {
            assertTrue(!java.util.Arrays.equals(a, b), "native bf16 computes other numbers than fp32");
        } else {
            assertArrayEquals(a, b, "without native bf16 the GEMMs run in fp32");
        }
    }
}
