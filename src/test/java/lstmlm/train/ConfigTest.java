package lstmlm.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigTest {
    @TempDir
    Path dir;

    @Test
    void bundledConfigsAreTensorFlowsTable() {
        // init_scale, learning_rate, max_grad_norm, num_layers, num_steps, hidden_size, max_epoch, max_max_epoch,
        // keep_prob, lr_decay, batch_size, vocab_size
        assertTensorFlow("small", 0.1, 1.0, 5, 2, 20, 200, 4, 13, 1.0, 0.5, 20, 10000);
        assertTensorFlow("medium", 0.05, 1.0, 5, 2, 35, 650, 6, 39, 0.5, 0.8, 20, 10000);
        assertTensorFlow("large", 0.04, 1.0, 10, 2, 35, 1500, 14, 55, 0.35, 1 / 1.15, 20, 10000);
        assertTensorFlow("test", 0.1, 1.0, 1, 1, 2, 2, 1, 1, 1.0, 0.5, 20, 10000);
    }

    /** Every bundled config loads, and the Brown one is medium-vd-tied's regularisation with an adaptive softmax. */
    @Test
    void bundledConfigsLoad() {
        for (String name : Config.BUNDLED) assertEquals(name, Config.load(name, Map.of()).name());
        Config brown = Config.load("brown-vd-adaptive", Map.of());
        Config vd = Config.load("medium-vd-tied", Map.of());
        assertEquals(vd.dropouts(), brown.dropouts());
        assertEquals(List.of(vd.weightDecay(), vd.lrSchedule(), vd.lrDecay(), vd.maxEpoch()),
                List.of(brown.weightDecay(), brown.lrSchedule(), brown.lrDecay(), brown.maxEpoch()));
        assertEquals(false, brown.tieWeights());
        assertEquals(400, brown.hiddenSize());
        assertEquals(List.of(2000, 6000), brown.adaptive().cutoffs());
        assertEquals(new lstmlm.data.VocabularyLimits(0, 4), brown.vocabularyLimits());
    }

    private static void assertTensorFlow(String name, double initScale, double lr, double maxNorm, int layers, int steps,
                                         int hidden, int maxEpoch, int maxMaxEpoch, double keep, double decay, int batch,
                                         int vocab) {
        Config c = Config.load(name, Map.of());
        assertEquals(List.of(initScale, lr, maxNorm, layers, steps, hidden, maxEpoch, maxMaxEpoch, keep, decay, batch, vocab),
                List.of(c.initScale(), c.learningRate(), c.maxGradNorm(), c.numLayers(), c.numSteps(), c.hiddenSize(),
                        c.maxEpoch(), c.maxMaxEpoch(), c.keepProb(), c.lrDecay(), c.batchSize(), c.vocabSize()), name);
        // every key past TensorFlow's leaves its configs as they were
        assertEquals(lstmlm.model.Precision.FP32, c.precision(), name);
        assertEquals(lstmlm.model.DropoutPlan.tensorFlow((float) keep), c.dropouts(), name);
        assertEquals(lstmlm.data.VocabularyLimits.NONE, c.vocabularyLimits(), name);
        assertEquals(false, c.tieWeights(), name);
        assertEquals(0.0, c.weightDecay(), name);
    }

    @Test
    void learningRateDecaysAfterMaxEpoch() {
        Config small = Config.load("small", Map.of());
        // lr_i = 1.0 * 0.5^max(i + 1 - 4, 0)
        assertEquals(1.0, small.learningRate(0));
        assertEquals(1.0, small.learningRate(3));
        assertEquals(0.5, small.learningRate(4));
        assertEquals(0.25, small.learningRate(5));
        assertEquals(Math.pow(0.5, 9), small.learningRate(12));
    }

    @Test
    void heldScheduleKeepsTheInitialRateOneEpochLonger() {
        // Zaremba's Lua (small: decay=2, max_epoch=4) trains epochs 1-5 at lr 1 and halves after
        // each later one; TF's first tutorial versions did the same with lr_decay ** max(i - 4, 0)
        Config c = Config.load("small", Map.of("lr_schedule", "epoch-held"));
        assertEquals(Config.LrSchedule.EPOCH_HELD, c.lrSchedule());
        double[] expected = {1, 1, 1, 1, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], c.learningRate(i), "epoch " + (i + 1));
            assertEquals(expected[i], c.learningRate(i, List.of(1.0, 2.0)), "epoch " + (i + 1) + " ignores the history");
        }
        // medium: 0.8^32 at epoch 39 where the epoch schedule gives 0.8^33
        Config medium = Config.load("medium", Map.of("lr_schedule", "epoch-held"));
        assertEquals(Math.pow(0.8, 32), medium.learningRate(38), 1e-18);
        assertEquals(Config.load("medium", Map.of()).learningRate(37), medium.learningRate(38));
    }

    @Test
    void plateauScheduleDecaysAfterEachEpochThatDidNotImprove() {
        Config c = Config.load("small", Map.of("lr_schedule", "plateau", "max_epoch", "3", "lr_decay", "0.25"));
        assertEquals(Config.LrSchedule.PLATEAU, c.lrSchedule());
        // epochs 1..8 (0-based 0..7); epoch 2 (0-based 1) does not improve but is before max_epoch 3
        List<Double> valid = List.of(200.0, 210.0, 150.0, 150.0, 140.0, 141.0, 139.5, Double.NaN);
        double[] expected = {1, 1, 1, 1, 0.25, 0.25, 0.0625, 0.0625, 0.015625};
        for (int i = 0; i <= valid.size(); i++) {
            assertEquals(expected[i], c.learningRate(i, valid.subList(0, i)), "epoch " + i);
        }
        // the rate at epoch i depends only on the first i perplexities
        assertEquals(0.25, c.learningRate(4, valid));
        assertThrows(IllegalArgumentException.class, () -> c.learningRate(3, valid.subList(0, 2)));
        assertThrows(IllegalStateException.class, () -> c.learningRate(3));
        // TF's schedule ignores the history
        Config small = Config.load("small", Map.of());
        assertEquals(Config.LrSchedule.EPOCH, small.lrSchedule());
        assertEquals(small.learningRate(6), small.learningRate(6, valid));
        ConfigException e = assertThrows(ConfigException.class, () -> Config.load("small", Map.of("lr_schedule", "cosine")));
        assertTrue(e.getMessage().contains("lr_schedule") && e.getMessage().contains("epoch, epoch-held or plateau"), e.getMessage());
    }

    @Test
    void noScheduleReadsMaxMaxEpochSoARunCanBeExtended() {
        // what makes --resume --set max_max_epoch=N the run configured with N (TrainCommand.extended)
        List<Double> valid = List.of(200.0, 210.0, 150.0, 150.0, 140.0, 141.0, 139.5, 139.6, 139.0, 139.1);
        for (Config.LrSchedule each : Config.LrSchedule.values()) {
            String schedule = each.key;
            Config shorter = Config.load("medium", Map.of("lr_schedule", schedule, "max_epoch", "3", "max_max_epoch", "5"));
            Config longer = shorter.withOverrides(Map.of("max_max_epoch", "40"));
            for (int i = 0; i <= valid.size(); i++) {
                assertEquals(shorter.learningRate(i, valid.subList(0, i)), longer.learningRate(i, valid.subList(0, i)),
                        schedule + ", epoch " + i);
            }
        }
    }

    @Test
    void overridesReplaceValuesAndAreChecked() {
        Config c = Config.load("small", Map.of("keep_prob", "0.9", "hidden_size", "64"));
        assertEquals(0.9, c.keepProb());
        assertEquals(64, c.hiddenSize());
        assertMessage(() -> Config.load("small", Map.of("hiden_size", "64")), "hiden_size");
        assertMessage(() -> Config.load("small", Map.of("keep_prob", "1.5")), "keep_prob");
        assertMessage(() -> Config.load("small", Map.of("num_steps", "ten")), "num_steps");
        assertMessage(() -> Config.load("small", Map.of("batch_size", "0")), "batch_size");
        // positive as a double, 0 as the float the engine uses: refused by name, not an exception deep in the engine
        assertMessage(() -> Config.load("small", Map.of("keep_prob_words", "0.8e-70")), "keep_prob_words");
        assertMessage(() -> Config.load("small", Map.of("learning_rate", "1e-50")), "single precision");
        assertEquals(1.4e-45, Config.load("small", Map.of("keep_prob_words", "1.4e-45")).keepProbWords(), 1e-50);
    }

    @Test
    void filesAreCheckedKeyByKey() throws IOException {
        Path ok = Files.writeString(dir.resolve("mine.properties"), String.join("\n",
                "init_scale=0.1", "learning_rate=1", "max_grad_norm=5", "num_layers=1", "num_steps=5",
                "hidden_size=8", "max_epoch=1", "max_max_epoch=2", "keep_prob=1", "lr_decay=1/2",
                "batch_size=4", "vocab_size=100"));
        Config c = Config.load(ok.toString(), Map.of());
        assertEquals("mine", c.name());
        assertEquals(0.5, c.lrDecay());

        Path missing = Files.writeString(dir.resolve("missing.properties"), "init_scale=0.1\n");
        assertMessage(() -> Config.load(missing.toString(), Map.of()), "Missing key 'learning_rate'");
        Path unknown = Files.writeString(dir.resolve("unknown.properties"),
                Files.readString(ok) + "\nlearning_rte=2\n");
        assertMessage(() -> Config.load(unknown.toString(), Map.of()), "Unknown key 'learning_rte'");
        assertMessage(() -> Config.load("tiny", Map.of()), "Unknown config 'tiny'");
    }

    @Test
    void theAdaptiveSoftmaxKeysAreCheckedAndRoundTrip() {
        Config full = Config.load("small", Map.of());
        assertEquals(null, full.adaptive(), "softmax=full by default: every existing config unchanged");
        assertEquals("full", full.toMap().get("softmax"));
        Config a = Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000, 6000", "adaptive_div", "2"));
        assertEquals(List.of(2000, 6000), a.adaptive().cutoffs());
        assertEquals(2, a.adaptive().div());
        assertEquals(2002, a.adaptive().headSize());
        assertEquals(4000, a.adaptive().size(1, 10_000));
        assertEquals(100, a.adaptive().projection(0, 200));
        assertEquals(50, a.adaptive().projection(1, 200));
        assertEquals(a, a.withOverrides(Map.of()), "toMap then fromMap gives the same config");
        assertEquals("2000,6000", a.toMap().get("adaptive_cutoffs"));
        assertEquals(4, Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000")).adaptive().div(), "div defaults to 4");
        assertEquals(1f, full.dropouts().tail(), "no tail dropout by default");
        Config dropped = Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000", "keep_prob_tail", "0.75"));
        assertEquals(0.75f, dropped.dropouts().tail());
        assertEquals(1f, dropped.dropouts().output(), "keep_prob_tail drops only the tail clusters' units");
        assertEquals(dropped, dropped.withOverrides(Map.of()));
        assertMessage(() -> Config.load("small", Map.of("keep_prob_tail", "0.75")), "keep_prob_tail=0.75 in");
        assertMessage(() -> Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000", "keep_prob_tail", "0")),
                "keep_prob_tail");

        assertMessage(() -> Config.load("small", Map.of("softmax", "hierarchical")), "softmax 'hierarchical' is not full or adaptive");
        assertMessage(() -> Config.load("small", Map.of("softmax", "adaptive")), "needs adaptive_cutoffs");
        assertMessage(() -> Config.load("small", Map.of("adaptive_cutoffs", "2000")), "has no effect with softmax=full");
        assertMessage(() -> Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "6000,2000")), "must be increasing");
        assertMessage(() -> Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2k")), "not a comma-separated list");
        assertMessage(() -> Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "20", "adaptive_div", "0")), "adaptive_div 0");
        assertMessage(() -> Config.load("medium-vd-tied", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000")),
                "tie_weights=true and softmax=adaptive");
        // the cutoffs are checked against the vocabulary once the data gave its size
        Config big = Config.load("small", Map.of("softmax", "adaptive", "adaptive_cutoffs", "2000,20000"));
        assertMessage(big::shape, "must all be below the vocabulary size 10000");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable e, String fragment) {
        ConfigException ex = assertThrows(ConfigException.class, e);
        assertTrue(ex.getMessage().contains(fragment), ex.getMessage());
    }
}
