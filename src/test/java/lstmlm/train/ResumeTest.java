package lstmlm.train;

import lstmlm.data.Corpus;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exact resume on a tiny two-layer model with dropout: a run cut at an epoch end or mid-epoch and
 * resumed gives bit-identical weights and the same printed perplexities as one uninterrupted run.
 */
class ResumeTest {
    @TempDir
    static Path tmp;
    static Corpus corpus;
    static final Config CONFIG = TinyRun.config();
    static final int THREADS = 2;
    static final long SEED = 42;

    /** The uninterrupted 2-epoch run, with a checkpoint every 37 windows kept. */
    static float[] straightWeights;
    static List<String> straightLines;
    static Trainer.Result straightResult;
    static Path straightDir;

    @BeforeAll
    static void straightRun() throws IOException {
        corpus = Corpus.load(TinyRun.corpus(tmp));
        straightDir = tmp.resolve("straight");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (Trainer t = TinyRun.trainer(CONFIG, corpus, SEED, THREADS, new PrintStream(log, true, StandardCharsets.UTF_8))) {
            t.checkpointTo(CheckpointStore.open(straightDir, 1000), 37);
            straightResult = t.run(2);
            straightWeights = t.model().params.toArray(JAVA_FLOAT);
        }
        straightLines = perplexityLines(log);
    }

    /** TF's lines with the speed (wall-clock) cut off; checkpoint notes dropped. */
    static List<String> perplexityLines(ByteArrayOutputStream log) {
        return Arrays.stream(log.toString(StandardCharsets.UTF_8).split("\n"))
                .filter(l -> !l.startsWith("Saved checkpoint"))
                .map(l -> l.replaceAll(" speed: \\d+ wps", ""))
                .toList();
    }

    /** Resumes from {@code file} in a fresh trainer and runs to 2 epochs. */
    static Resumed resume(Path file) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (Checkpoint c = Checkpoint.load(file);
             Trainer t = TinyRun.trainer(c.config(), corpus, c.progress().seed(), THREADS,
                     new PrintStream(log, true, StandardCharsets.UTF_8))) {
            t.restore(c);
            Trainer.Result r = t.run(2);
            return new Resumed(r, t.model().params.toArray(JAVA_FLOAT), perplexityLines(log));
        }
    }

    record Resumed(Trainer.Result result, float[] weights, List<String> lines) {}

    @Test
    void oneEpochThenResumeEqualsTwoEpochs() {
        Path dir = tmp.resolve("first-epoch");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (Trainer t = TinyRun.trainer(CONFIG, corpus, SEED, THREADS, new PrintStream(log, true, StandardCharsets.UTF_8))) {
            t.checkpointTo(CheckpointStore.open(dir, 3), 0);
            t.run(1);
        }
        List<String> first = perplexityLines(log);
        try (Checkpoint newest = CheckpointStore.newest(dir, System.out)) {
            assertEquals(1, newest.progress().epoch());
            assertEquals(0, newest.progress().step());
        }
        Resumed r = resume(CheckpointStore.checkpoints(dir).getLast());
        assertArrayEquals(straightWeights, r.weights());
        assertEquals(straightResult, r.result());
        // run 1's lines without its own test line, then run 2's lines, are the straight run's
        List<String> joined = new java.util.ArrayList<>(first.subList(0, first.size() - 1));
        joined.addAll(r.lines());
        assertEquals(straightLines, joined);
        assertTrue(Files.exists(dir.resolve(CheckpointStore.BEST)));
    }

    @Test
    void aMidEpochResumeEqualsTheStraightRun() {
        // ckpt at global step 37·k inside epoch 1 (not at its start) and one inside epoch 2
        List<Path> all = CheckpointStore.checkpoints(straightDir);
        for (long step : new long[]{37 * 5, 37 * 15}) {
            Path file = CheckpointStore.checkpointFile(straightDir, step);
            assertTrue(all.contains(file), file + " in " + all);
            int epochSize;
            int inEpoch;
            try (Checkpoint c = Checkpoint.load(file)) {
                epochSize = c.progress().epochSize();
                inEpoch = c.progress().step();
                assertTrue(inEpoch > 0 && inEpoch < epochSize, "mid-epoch: " + inEpoch + " of " + epochSize);
            }
            Resumed r = resume(file);
            assertArrayEquals(straightWeights, r.weights(), "from " + file);
            assertEquals(straightResult, r.result(), "from " + file);
            // the resumed lines are the straight run's from the resume point on (after the
            // repeated "Epoch: N Learning rate" line that opens the resumed epoch)
            List<String> resumed = r.lines().subList(1, r.lines().size());
            assertTrue(r.lines().getFirst().contains("Learning rate"), r.lines().getFirst());
            assertEquals(straightLines.subList(straightLines.size() - resumed.size(), straightLines.size()), resumed);
            assertTrue(r.lines().stream().anyMatch(l -> l.contains(" perplexity: ")), "progress lines after the resume");
        }
    }

    /**
     * bf16 mode resumes exactly too: the bf16 copy of the weights is rebuilt from the restored
     * float32 masters, and in a straight run the update writes the same roundings of the same values.
     */
    @Test
    void bf16ResumesBitForBit() {
        Config bf16 = CONFIG.withOverrides(java.util.Map.of("precision", "bf16"));
        float[] straight;
        Path dir = tmp.resolve("bf16");
        try (Trainer t = TinyRun.trainer(bf16, corpus, SEED, THREADS, new PrintStream(new ByteArrayOutputStream()))) {
            t.checkpointTo(CheckpointStore.open(dir, 1000), 37);
            t.run(2);
            straight = t.model().params.toArray(JAVA_FLOAT);
        }
        assertTrue(!java.util.Arrays.equals(straight, straightWeights), "bf16 computes other numbers than fp32");
        try (Checkpoint c = Checkpoint.load(CheckpointStore.checkpointFile(dir, 37));
             Trainer t = TinyRun.trainer(c.config(), corpus, c.progress().seed(), THREADS, new PrintStream(new ByteArrayOutputStream()))) {
            assertEquals(lstmlm.model.Precision.BF16, c.config().precision());
            t.restore(c);
            t.run(2);
            assertArrayEquals(straight, t.model().params.toArray(JAVA_FLOAT));
        }
    }

    /**
     * lr_schedule plateau: the rate of each epoch follows from the validation perplexities before it
     * (which the checkpoint carries), so a resume after a decay goes on at the decayed rate, bit for bit.
     */
    @Test
    void thePlateauScheduleDecaysOnTheValidationHistoryAndResumesBitForBit() {
        Config plateau = CONFIG.withOverrides(java.util.Map.of("lr_schedule", "plateau", "max_max_epoch", "6",
                "learning_rate", "2.0"));
        Path dir = tmp.resolve("plateau");
        Trainer.Result straight;
        float[] weights;
        List<Double> lrs = new java.util.ArrayList<>();
        try (Trainer t = TinyRun.trainer(plateau, corpus, SEED, THREADS, new PrintStream(new ByteArrayOutputStream()))) {
            t.listen(new TrainingListener() {
                @Override
                public void onEpochStart(EpochStart e) {
                    lrs.add(e.learningRate());
                }
            });
            t.checkpointTo(CheckpointStore.open(dir, 1000), 0);
            straight = t.run(6);
            weights = t.model().params.toArray(JAVA_FLOAT);
        }
        List<Double> valid = straight.validPerplexity();
        for (int i = 0; i < 6; i++) assertEquals(plateau.learningRate(i, valid.subList(0, i)), lrs.get(i), "epoch " + (i + 1));
        int firstDecay = lrs.indexOf(lrs.stream().filter(lr -> lr < 2.0).findFirst()
                .orElseThrow(() -> new AssertionError("no plateau in 6 epochs, valid " + valid + ": the test needs one")));
        // resume from the checkpoint that ends the epoch before the first decayed one, and from the one after it
        for (int epoch : new int[]{firstDecay, firstDecay + 1}) {
            if (epoch >= 6) continue;
            Path file = CheckpointStore.checkpoints(dir).stream().filter(f -> {
                try (Checkpoint c = Checkpoint.load(f)) {
                    return c.progress().epoch() == epoch && c.progress().step() == 0;
                }
            }).findFirst().orElseThrow();
            try (Checkpoint c = Checkpoint.load(file);
                 Trainer t = TinyRun.trainer(c.config(), corpus, c.progress().seed(), THREADS, new PrintStream(new ByteArrayOutputStream()))) {
                assertEquals(lrs.get(epoch), c.progress().learningRate(), "the rate the checkpoint records");
                t.restore(c);
                Trainer.Result r = t.run(6);
                assertArrayEquals(weights, t.model().params.toArray(JAVA_FLOAT), "resumed at epoch " + (epoch + 1));
                assertEquals(straight, r);
            }
        }
    }

    /**
     * requestStop at each kind of point (inside a training window, during validation, right after a
     * checkpoint, before the test): the run writes its exact position and stops; resuming from it gives
     * the uninterrupted run's weights and perplexities bit for bit.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"window", "validation", "after-save", "before-test"})
    void aStopRequestedAnywhereResumesBitForBit(String where) {
        Path dir = tmp.resolve("stop-" + where);
        TrainingStoppedException stopped;
        try (Trainer t = TinyRun.trainer(CONFIG, corpus, SEED, THREADS, new PrintStream(new ByteArrayOutputStream()))) {
            t.checkpointTo(CheckpointStore.open(dir, 3), 0);
            t.listen(new TrainingListener() {
                @Override
                public void onStep(Step step) {
                    if (where.equals("window") && step.epoch() == 2 && step.step() == 13) {
                        assertEquals(Trainer.Phase.TRAINING, t.phase());
                        t.requestStop();
                    }
                }

                @Override
                public void onTrainingPass(TrainingPass pass) {
                    if (where.equals("validation") && pass.epoch() == 1) t.requestStop(); // validation starts next
                }

                @Override
                public void onCheckpoint(Path file) {
                    if (where.equals("after-save") || where.equals("before-test") && t.epoch() == 2) {
                        assertEquals(Trainer.Phase.SAVING, t.phase());
                        t.requestStop();
                    }
                }
            });
            stopped = assertThrows(TrainingStoppedException.class, () -> t.run(2));
            assertEquals(Trainer.Phase.IDLE, t.phase());
        }
        assertTrue(Files.isRegularFile(stopped.checkpoint()), stopped.getMessage());
        try (Checkpoint c = CheckpointStore.newest(dir, System.out)) {
            assertEquals(stopped.checkpoint(), c.file(), "the stop's checkpoint is the newest");
            assertEquals(stopped.globalStep(), c.progress().globalStep());
            switch (where) {
                case "window" -> assertEquals(13, c.progress().step());
                case "validation" -> assertEquals(c.progress().epochSize(), c.progress().step(), "the pass done, not yet validated");
                default -> assertEquals(0, c.progress().step());
            }
        }
        Resumed r = resume(stopped.checkpoint());
        assertArrayEquals(straightWeights, r.weights(), where);
        assertEquals(straightResult, r.result(), where);
    }

    @Test
    void aFailedWriteStopsTrainingAndKeepsThePreviousCheckpoint() throws IOException {
        Path dir = tmp.resolve("fails");
        CheckpointStore store = CheckpointStore.open(dir, 3);
        // the second checkpoint's name is taken by a folder with a file in it: its rename fails,
        // as a write on a full disk or a read-only folder would
        Path blocked = CheckpointStore.checkpointFile(dir, 40);
        Files.createDirectories(blocked);
        Files.writeString(blocked.resolve("x"), "x");
        UncheckedIOException e;
        try (Trainer t = TinyRun.trainer(CONFIG, corpus, SEED, THREADS, new PrintStream(new ByteArrayOutputStream()))) {
            t.checkpointTo(store, 20);
            e = assertThrows(UncheckedIOException.class, () -> t.run(1));
        }
        Path previous = CheckpointStore.checkpointFile(dir, 20);
        assertTrue(e.getMessage().contains(blocked.toString()) && e.getMessage().contains("previous checkpoint " + previous
                + " is intact") && e.getMessage().contains("--resume " + dir), e.getMessage());
        try (Checkpoint c = CheckpointStore.newest(dir, System.out)) {
            assertEquals(previous, c.file());
            assertEquals(20, c.progress().globalStep());
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.toString().endsWith(".tmp")), "no temp file left behind");
        }
    }

    @Test
    void resumeRefusesAnotherSeedConfigOrData() throws IOException {
        Path file = CheckpointStore.checkpointFile(straightDir, 37);
        try (Checkpoint c = Checkpoint.load(file)) {
            try (Trainer t = TinyRun.trainer(CONFIG, corpus, SEED + 1, 1, new PrintStream(new ByteArrayOutputStream()))) {
                assertTrue(assertThrows(ConfigException.class, () -> t.restore(c)).getMessage().contains("seed"));
            }
            Config other = CONFIG.withOverrides(java.util.Map.of("keep_prob", "0.8"));
            try (Trainer t = TinyRun.trainer(other, corpus, SEED, 1, new PrintStream(new ByteArrayOutputStream()))) {
                assertTrue(assertThrows(ConfigException.class, () -> t.restore(c)).getMessage().contains("config"));
            }
        }
    }
}
