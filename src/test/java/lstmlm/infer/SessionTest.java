package lstmlm.infer;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionTest {
    @TempDir
    Path dir;

    /**
     * Sizes off the lane count, one to three layers, untied and tied (the embedding is the output
     * projection), in every weight format: the reference reads a bf16 or int8 file as the float32
     * values it stands for, so the session must match it as closely as an fp32 one.
     */
    @ParameterizedTest
    @CsvSource({"53,21,2,false,FP32", "37,16,1,false,FP32", "101,35,3,false,FP32", "53,21,2,true,FP32", "37,16,1,true,FP32",
            "53,21,2,false,BF16", "101,35,3,true,BF16", "53,21,2,false,INT8", "37,16,1,true,INT8", "101,35,3,false,INT8"})
    void stepsMatchTheDoublePrecisionReference(int vocab, int hidden, int layers, boolean tied,
                                               lstmlm.modelfile.WeightFormat format) {
        Path file = TestModels.write(dir, vocab, hidden, layers, tied, 3, 0.3f, format);
        ReferenceLm ref = new ReferenceLm(file);
        int[] ids = new SplittableRandom(5).ints(30, 0, vocab).toArray();
        for (Model.SoftmaxLayout layout : Model.SoftmaxLayout.values()) {
            if (format != lstmlm.modelfile.WeightFormat.FP32 && layout == Model.SoftmaxLayout.TRANSPOSED_COPY) continue;
            try (Model model = Model.load(file, layout); Session s = model.newSession()) {
                ref.reset();
                float[] probs = new float[vocab];
                for (int id : ids) {
                    s.feed(id);
                    ref.feed(id);
                    s.probabilities(probs);
                    double total = 0;
                    for (int v = 0; v < vocab; v++) {
                        assertEquals(ref.logProbs[v], s.logProbability(v), 2e-4, layout + " log P(" + v + ")");
                        assertEquals(Math.exp(ref.logProbs[v]), probs[v], 1e-5, layout + " P(" + v + ")");
                        total += probs[v];
                    }
                    assertEquals(1.0, total, 1e-4);
                }
            }
        }
    }

    @Test
    void wordsAndUnknownWords() {
        Path file = TestModels.write(dir, 40, 12, 2, 4, 0.3f);
        try (Model model = Model.load(file); Session a = model.newSession(); Session b = model.newSession()) {
            a.feed("w7");
            b.feed(7);
            assertEquals(b.logProbability(9), a.logProbability("w9"));
            a.feed("never-seen");
            b.feed(0); // <unk>
            assertEquals(b.logProbability(0), a.logProbability("also-never-seen"));
            assertEquals(0, model.idOrUnk("zzz"));
        }
    }

    @Test
    void topKIsTheBestWordsInOrderAndReusable() {
        Path file = TestModels.write(dir, 60, 14, 2, 6, 1.0f);
        try (Model model = Model.load(file); Session s = model.newSession()) {
            TopK top = new TopK(5);
            float[] probs = new float[60];
            for (int step = 0; step < 10; step++) {
                s.feed(step * 7 % 60);
                s.probabilities(probs);
                Integer[] order = new Integer[60];
                for (int i = 0; i < 60; i++) order[i] = i;
                Arrays.sort(order, (x, y) -> probs[x] != probs[y] ? Float.compare(probs[y], probs[x]) : Integer.compare(x, y));
                assertTrue(s.topK(top) == top);
                assertEquals(5, top.size());
                for (int r = 0; r < 5; r++) {
                    assertEquals(order[r], top.id(r), "rank " + r);
                    assertEquals(probs[order[r]], top.probability(r), 1e-6);
                    assertEquals("w" + order[r], order[r] < 2 ? top.word(r).replace("<unk>", "w0").replace("<eos>", "w1") : top.word(r));
                }
                assertEquals(order[0], s.argmax());
            }
            assertEquals(60, s.topK(100).size());
            assertThrows(IllegalArgumentException.class, () -> new TopK(0));
            assertThrows(IndexOutOfBoundsException.class, () -> top.id(5));
        }
    }

    @Test
    void samplingIsSeededAndRespectsTemperatureAndTopK() {
        Path file = TestModels.write(dir, 30, 10, 1, 8, 1.5f);
        try (Model model = Model.load(file); Session s = model.newSession()) {
            s.feed(3);
            int[] first = new int[200], again = new int[200];
            var r1 = new SplittableRandom(42);
            var r2 = new SplittableRandom(42);
            for (int i = 0; i < 200; i++) first[i] = s.sample(1f, 0, r1);
            for (int i = 0; i < 200; i++) again[i] = s.sample(1f, 0, r2);
            assertArrayEquals(first, again);
            assertTrue(Arrays.stream(first).distinct().count() > 3, "temperature 1 over 30 words draws several words");
            TopK top = s.topK(3);
            var rnd = new SplittableRandom(1);
            for (int i = 0; i < 300; i++) {
                int w = s.sample(2f, 3, rnd);
                assertTrue(w == top.id(0) || w == top.id(1) || w == top.id(2), "top-3 sampling drew " + w);
            }
            assertEquals(s.argmax(), s.sample(0f, 0, rnd));
            assertEquals(s.argmax(), s.sample(1f, 1, rnd));
            // the empirical frequencies follow the distribution
            float[] probs = s.probabilities();
            int[] counts = new int[30];
            var r3 = new SplittableRandom(9);
            int n = 20000;
            for (int i = 0; i < n; i++) counts[s.sample(1f, 0, r3)]++;
            for (int v = 0; v < 30; v++) {
                double sd = Math.sqrt(n * probs[v] * (1 - probs[v]));
                assertEquals(n * probs[v], counts[v], 5 * sd + 3, "count of word " + v);
            }
            assertThrows(IllegalArgumentException.class, () -> s.sample(-1f, 0, rnd));
            assertThrows(IllegalArgumentException.class, () -> s.sample(Float.NaN, 0, rnd));
            assertThrows(IllegalArgumentException.class, () -> s.sample(1f, -2, rnd));
        }
    }

    @Test
    void resetCopyAndCopyStateFromGiveBitIdenticalContinuations() {
        Path file = TestModels.write(dir, 45, 19, 2, 9, 0.5f);
        try (Model model = Model.load(file); Session s = model.newSession(); Session fresh = model.newSession()) {
            for (int id : new int[]{1, 5, 8, 13}) s.feed(id);
            Session fork = s.copy();
            Session other = model.newSession();
            other.feed(44);
            other.copyStateFrom(s);
            float[] a = new float[45], b = new float[45], c = new float[45];
            for (int id : new int[]{2, 40, 7}) {
                s.feed(id);
                fork.feed(id);
                other.feed(id);
                s.probabilities(a);
                fork.probabilities(b);
                other.probabilities(c);
                assertArrayEquals(a, b);
                assertArrayEquals(a, c);
            }
            s.reset();
            assertFalse(s.hasPrediction());
            s.feed(3);
            fresh.feed(3);
            assertEquals(fresh.logProbability(4), s.logProbability(4));
            fork.feed(3);
            assertNotEquals(fresh.logProbability(4), fork.logProbability(4), "the fork kept its own history");
        }
    }

    @Test
    void sentenceScoreIsTheSumOverWordsAndTheClosingEos() {
        Path file = TestModels.write(dir, 50, 13, 2, 10, 0.5f);
        ReferenceLm ref = new ReferenceLm(file);
        try (Model model = Model.load(file); Session s = model.newSession()) {
            SentenceScore score = s.score(List.of("w4", "w9", "nope", "w2"));
            double expected = ref.score(new int[]{4, 9, 0, 2}, 1);
            assertEquals(expected, score.logProbability(), 1e-3);
            assertEquals(5, score.tokens());
            assertEquals(1, score.unknownWords());
            assertEquals(Math.exp(-expected / 5), score.perplexity(), 1e-3 * score.perplexity());
            assertEquals(score.logProbability(), s.score(new int[]{4, 9, 0, 2}).logProbability());
        }
    }

    @Test
    void badInputGetsClearExceptions() {
        Path file = TestModels.write(dir, 20, 8, 1, 11, 0.5f);
        Model model = Model.load(file);
        Session s = model.newSession();
        var e = assertThrows(IllegalStateException.class, () -> s.logProbability(1));
        assertTrue(e.getMessage().contains("feed a word first"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> s.feed(20));
        assertThrows(IndexOutOfBoundsException.class, () -> s.feed(-1));
        s.feed(2);
        assertThrows(IndexOutOfBoundsException.class, () -> s.logProbability(20));
        assertThrows(IllegalArgumentException.class, () -> s.probabilities(new float[19]));
        var empty = assertThrows(IllegalArgumentException.class, () -> s.score(List.of()));
        assertTrue(empty.getMessage().contains("empty sentence"));
        assertThrows(IllegalArgumentException.class, () -> s.score(new int[0]));
        try (BatchScorer scorer = model.newBatchScorer(4)) {
            assertThrows(IllegalArgumentException.class, () -> scorer.score(List.of(List.of("w3"), List.of())));
            assertThrows(IndexOutOfBoundsException.class, () -> scorer.scoreIds(new int[][]{{3, 99}}));
        }
        s.close();
        var closed = assertThrows(IllegalStateException.class, () -> s.feed(1));
        assertTrue(closed.getMessage().contains("closed"));
        Session live = model.newSession();
        BatchScorer scorer = model.newBatchScorer(2);
        model.close();
        model.close(); // twice is fine
        assertThrows(IllegalStateException.class, () -> live.feed(1));
        assertThrows(IllegalStateException.class, () -> scorer.scoreIds(new int[][]{{1}}));
        assertThrows(IllegalStateException.class, model::newSession);
        assertThrows(IllegalStateException.class, () -> model.newBatchScorer(2));
    }

    @Tag("allocation") // run a second time with none of our methods inlined: the pom's no-inlining execution
    @ParameterizedTest
    @CsvSource({"FP32,false,1", "FP32,true,1", "BF16,false,1", "INT8,false,1", "INT8,true,1", "FP32,false,2", "BF16,true,2"})
    void steadyStateStepsAllocateNothing(lstmlm.modelfile.WeightFormat format, boolean tied, int threads) {
        Path file = TestModels.write(dir, 500, 40, 2, tied, 12, 0.3f, format);
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // threads > 1: the steps split over StepThreads (what its helpers allocate is not this thread's; they allocate nothing either)
        try (Model model = Model.load(file); StepThreads split = new StepThreads(threads);
             Session s = threads > 1 ? model.newSession(split) : model.newSession(); Session fork = model.newSession()) {
            float[] probs = new float[500];
            TopK top = new TopK(10);
            var rnd = new SplittableRandom(3);
            Runnable step = () -> {
                s.feed(rnd.nextInt(500));
                s.probabilities(probs);
                s.logProbability(7);
                s.topK(top);
                s.sample(0.8f, 20, rnd);
                s.sample(1.2f, 0, rnd);
                fork.copyStateFrom(s);
            };
            Runnable[] parts = {
                    () -> s.feed(rnd.nextInt(500)), () -> s.probabilities(probs), () -> s.logProbability(7),
                    () -> s.topK(top), () -> s.sample(0.8f, 20, rnd), () -> s.sample(1.2f, 0, rnd),
                    () -> fork.copyStateFrom(s)};
            for (int i = 0; i < 20_000; i++) step.run(); // through C2
            // steady state: the least of a few rounds, since a recompilation (another format's model earlier in this
            // JVM changed a shared profile) can still run one round through C1 code that allocates
            long bytes = Long.MAX_VALUE;
            for (int round = 0; round < 4 && bytes >= 5000; round++) {
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 5000; i++) step.run();
                bytes = Math.min(bytes, mx.getCurrentThreadAllocatedBytes() - before);
            }
            StringBuilder perPart = new StringBuilder();
            for (Runnable part : parts) {
                long b0 = mx.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 1000; i++) part.run();
                perPart.append(' ').append((mx.getCurrentThreadAllocatedBytes() - b0) / 1000);
            }
            System.out.println(format + (tied ? " tied" : "") + ", " + threads + " threads: bytes per call of each part:" + perPart);
            // the counter itself may cost a few dozen bytes; anything per step would be >= 5000 × 16
            assertTrue(bytes < 5000, "steady-state steps allocated " + bytes + " bytes over 5000 steps");
        }
    }
}
