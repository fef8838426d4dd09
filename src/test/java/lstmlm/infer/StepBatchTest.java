package lstmlm.infer;

import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rows of a {@link StepBatch} against {@link Session}s fed the same words, through steps and beam
 * selections (rows repeated, dropped and reordered), in every weight format; capacity 1 bit for bit.
 */
class StepBatchTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void eachRowIsTheSessionOfItsWordsThroughStepsAndSelections(WeightFormat format) {
        rowsAreSessions(TestModels.write(dir, 50, 12, 2, false, 31, 0.6f, format), 50, format.key());
    }

    /** The same with an adaptive softmax: each row's logits row is written by the adaptive output. */
    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void adaptiveSoftmaxRowsAreTheirSessions(WeightFormat format) throws Exception {
        Path file = TestModels.writeAdaptive(dir, 50, 12, 2, "10,30", 2, 31, 0.6f);
        if (format != WeightFormat.FP32) {
            Path compact = dir.resolve("adaptive-" + format.key() + ".safetensors");
            try (lstmlm.modelfile.ModelFile in = lstmlm.modelfile.ModelFile.open(file)) {
                lstmlm.modelfile.Quantizer.write(in, compact, format);
            }
            file = compact;
        }
        rowsAreSessions(file, 50, "adaptive " + format.key());
    }

    private static void rowsAreSessions(Path file, int vocab, String format) {
        int n = 6;
        SplittableRandom random = new SplittableRandom(5);
        try (Model model = Model.load(file)) {
            StepBatch batch = model.newStepBatch(8);
            Session[] sessions = new Session[n], spare = new Session[n];
            for (int r = 0; r < n; r++) {
                sessions[r] = model.newSession();
                spare[r] = model.newSession();
            }
            batch.start(n);
            int[] ids = new int[8];
            float[] all = new float[vocab];
            for (int step = 0; step < 12; step++) {
                feedRandomWords(batch, sessions, n, ids, random, vocab);
                for (int r = 0; r < n; r++) {
                    batch.logProbabilities(r, all);
                    for (int w = 0; w < vocab; w++) {
                        assertEquals(sessions[r].logProbability(w), all[w], 2e-5, format + " step " + step + " row " + r + " word " + w);
                    }
                    assertEquals(sessions[r].logProbability(7), batch.logProbability(r, 7), 2e-5);
                    assertEquals(sessions[r].argmax(), batch.argmax(r), "argmax, row " + r);
                    TopK expected = sessions[r].topK(5), got = batch.topK(r, new TopK(5));
                    for (int k = 0; k < 5; k++) {
                        assertEquals(expected.id(k), got.id(k), "top-5 rank " + k + ", row " + r);
                        assertEquals(expected.probability(k), got.probability(k), 2e-5);
                    }
                }
                if (step % 3 == 2) { // a beam's survivors: rows repeated, dropped and reordered
                    selectRandomRows(batch, sessions, spare, n, n, random);
                    Session[] t = sessions;
                    sessions = spare;
                    spare = t;
                }
            }
            for (int r = 0; r < n; r++) {
                sessions[r].close();
                spare[r].close();
            }
        }
    }

    /**
     * Row counts across several of the GEMM path's matmuls (oneDNN's are made per multiple of eight
     * rows, the rows past those in use computed and ignored), growing and shrinking by selection:
     * each row stays its session. Where oneDNN is on the class path the model's packed copies are what
     * ran (the path this test is for).
     */
    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void rowCountsAcrossTheMatmulsRowBucketsAreSessions(WeightFormat format) {
        int vocab = 50, capacity = 37;
        SplittableRandom random = new SplittableRandom(9);
        try (Model model = Model.load(TestModels.write(dir, vocab, 12, 2, false, 31, 0.6f, format))) {
            StepBatch batch = model.newStepBatch(capacity);
            Session[] sessions = new Session[capacity], spare = new Session[capacity];
            for (int r = 0; r < capacity; r++) {
                sessions[r] = model.newSession();
                spare[r] = model.newSession();
            }
            int n = capacity;
            batch.start(n);
            int[] ids = new int[capacity];
            for (int next : new int[]{30, 17, 9, 5, 24, 37, 8}) {
                feedRandomWords(batch, sessions, n, ids, random, vocab);
                for (int r = 0; r < n; r++) {
                    for (int w = 0; w < vocab; w += 7) {
                        assertEquals(sessions[r].logProbability(w), batch.logProbability(r, w), 2e-5,
                                format + ", " + n + " rows, row " + r + " word " + w);
                    }
                }
                selectRandomRows(batch, sessions, spare, n, next, random);
                Session[] t = sessions;
                sessions = spare;
                spare = t;
                n = next;
            }
            if (lstmlm.natives.OneDnnSupport.packedMatmul(lstmlm.natives.PackedMatmul.Element.F32)) {
                assertNotNull(model.packedFp32(), "oneDNN is here, but the batch ran OpenBLAS");
            }
            for (int r = 0; r < capacity; r++) {
                sessions[r].close();
                spare[r].close();
            }
        }
    }

    @Test
    void capacityOneRunsTheSessionsKernelsBitForBit() {
        Path file = TestModels.write(dir, 40, 10, 2, 17, 0.5f);
        try (Model model = Model.load(file); Session session = model.newSession()) {
            StepBatch batch = model.newStepBatch(1);
            batch.start(1);
            int[] id = new int[1];
            for (int t = 0; t < 10; t++) {
                id[0] = (t * 7) % 40;
                session.feed(id[0]);
                batch.step(id);
                for (int w = 0; w < 40; w++) assertEquals(session.logProbability(w), batch.logProbability(0, w));
                assertEquals(session.topK(6).toString(), batch.topK(0, new TopK(6)).toString());
                // the same logits and generator state give the same draw, whole vocabulary or top-k
                assertEquals(session.sample(0.8f, 0, new SplittableRandom(t)), batch.sample(0, 0.8f, 0, new SplittableRandom(t)));
                assertEquals(session.sample(1.3f, 7, new SplittableRandom(t)), batch.sample(0, 1.3f, 7, new SplittableRandom(t)));
            }
        }
    }

    @Test
    void upToTheFewRowLimitFp32RowsAreTheSessionsBitForBit() {
        int vocab = 1100, rows = lstmlm.model.LayerSequence.FEW_ROWS; // more columns than one tile of the few-row kernel
        Path file = TestModels.write(dir, vocab, 12, 2, 21, 0.5f);
        try (Model model = Model.load(file)) {
            StepBatch batch = model.newStepBatch(32);
            Session[] sessions = new Session[rows];
            for (int r = 0; r < rows; r++) sessions[r] = model.newSession();
            SplittableRandom random = new SplittableRandom(9);
            int[] ids = new int[32];
            for (int n : new int[]{rows, 3, 2}) {
                batch.start(n);
                for (int r = 0; r < n; r++) sessions[r].reset();
                for (int t = 0; t < 6; t++) {
                    feedRandomWords(batch, sessions, n, ids, random, vocab);
                    for (int r = 0; r < n; r++) {
                        for (int w = 0; w < vocab; w += 7) {
                            assertEquals(sessions[r].logProbability(w), batch.logProbability(r, w), n + " rows, row " + r + " word " + w);
                        }
                    }
                }
            }
            for (Session s : sessions) s.close();
        }
    }

    @Tag("allocation") // run a second time with none of our methods inlined: the pom's no-inlining execution
    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void steadyStateStepsAndSelectionsAllocateNothing(WeightFormat format) {
        Path file = TestModels.write(dir, 300, 24, 2, false, 13, 0.3f, format);
        try (Model model = Model.load(file); StepThreads threads = new StepThreads(2)) {
            assertStepsAllocateNothing(model.newStepBatch(16), format.toString());
            if (format == WeightFormat.FP32) { // the normalisers read the logits, whatever the weights' format
                assertStepsAllocateNothing(model.newStepBatch(40, threads), format + " with its normalisers on two threads");
            }
        }
    }

    private static void assertStepsAllocateNothing(StepBatch batch, String what) {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int n = batch.capacity();
        batch.start(n);
        int[] ids = new int[n], from = new int[n];
        float[] all = new float[300];
        var random = new SplittableRandom(4);
        TopK top = new TopK(8);
        Runnable step = () -> {
            for (int r = 0; r < n; r++) {
                ids[r] = random.nextInt(300);
                from[r] = random.nextInt(n);
            }
            batch.step(ids);
            batch.logProbabilities(3, all);
            batch.logProbability(5, 9);
            batch.argmax(7);
            batch.topK(2, top);
            batch.sample(4, 0.9f, 0, random);
            batch.sample(6, 1.1f, 5, random);
            batch.select(from, n);
        };
        for (int i = 0; i < 5_000; i++) step.run(); // through C2
        long bytes = Long.MAX_VALUE;
        for (int round = 0; round < 4 && bytes >= 2000; round++) { // the least of a few rounds, as SessionTest
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 2000; i++) step.run();
            bytes = Math.min(bytes, mx.getCurrentThreadAllocatedBytes() - before);
        }
        assertTrue(bytes < 2000, what + ": steady-state steps allocated " + bytes + " bytes over 2000 steps");
    }

    /** Normalisers split over threads give every row's log-probabilities bit for bit as the caller alone does. */
    @Test
    void normalisersOnSeveralThreadsAreTheSameBits() {
        int vocab = 200, capacity = 53;
        Path file = TestModels.write(dir, vocab, 16, 2, 23, 0.5f);
        try (Model model = Model.load(file); StepThreads threads = new StepThreads(3)) {
            StepBatch alone = model.newStepBatch(capacity), split = model.newStepBatch(capacity, threads);
            SplittableRandom random = new SplittableRandom(5);
            float[] a = new float[vocab], b = new float[vocab];
            int[] ids = new int[capacity], from = new int[capacity];
            for (int n : new int[]{53, 40, 17, 33}) {
                alone.start(n);
                split.start(n);
                for (int t = 0; t < 4; t++) {
                    for (int r = 0; r < n; r++) ids[r] = random.nextInt(vocab);
                    alone.step(ids);
                    split.step(ids);
                    int first = random.nextInt(n); // the first row asked computes them all
                    assertEquals(alone.logProbability(first, 7), split.logProbability(first, 7));
                    for (int r = 0; r < n; r++) {
                        alone.logProbabilities(r, a);
                        split.logProbabilities(r, b);
                        assertArrayEquals(a, b, n + " rows, row " + r);
                    }
                    for (int r = 0; r < n; r++) from[r] = random.nextInt(n);
                    alone.select(from, n);
                    split.select(from, n);
                }
            }
        }
    }

    @Test
    void badCallsAreClearErrors() {
        Path file = TestModels.write(dir, 20, 4, 1, 3, 0.5f);
        try (Model model = Model.load(file)) {
            StepBatch batch = model.newStepBatch(4);
            assertThrows(IllegalArgumentException.class, () -> model.newStepBatch(0));
            assertThrows(IllegalStateException.class, () -> batch.step(new int[4]));
            assertThrows(IllegalArgumentException.class, () -> batch.start(5));
            batch.start(2);
            assertThrows(IllegalStateException.class, () -> batch.logProbability(0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> batch.step(new int[]{0, 20}));
            batch.step(new int[]{1, 2});
            assertThrows(IndexOutOfBoundsException.class, () -> batch.logProbability(2, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> batch.select(new int[]{0, 2}, 2));
            assertThrows(IllegalArgumentException.class, () -> batch.step(new int[]{1}));
        }
        StepBatch closedModel;
        try (Model model = Model.load(file)) {
            closedModel = model.newStepBatch(2);
        }
        assertThrows(IllegalStateException.class, () -> closedModel.start(1));
    }

    /** Rows [0, n) and their sessions fed the same random word each. */
    private static void feedRandomWords(StepBatch batch, Session[] sessions, int n, int[] ids, SplittableRandom random, int vocab) {
        for (int r = 0; r < n; r++) {
            ids[r] = random.nextInt(vocab);
            sessions[r].feed(ids[r]);
        }
        batch.step(ids);
    }

    /** Rows [0, next) become random rows of the n in use, in the batch and, into {@code into}, in the sessions. */
    private static void selectRandomRows(StepBatch batch, Session[] sessions, Session[] into, int n, int next, SplittableRandom random) {
        int[] from = new int[next];
        for (int r = 0; r < next; r++) from[r] = random.nextInt(n);
        batch.select(from, next);
        for (int r = 0; r < next; r++) into[r].copyStateFrom(sessions[from[r]]);
    }
}
