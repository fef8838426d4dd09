package lstmlm.infer;

import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A session whose steps are split over threads gives the bits of one that runs alone. */
class StepThreadsTest {
    @TempDir
    Path dir;

    /** Every step's whole distribution, as float bits, of the words {@code ids} fed to {@code s}. */
    private static int[][] run(Session s, int[] ids, int vocab) {
        float[] probs = new float[vocab];
        int[][] bits = new int[ids.length][vocab + 1];
        for (int t = 0; t < ids.length; t++) {
            s.feed(ids[t]);
            s.probabilities(probs);
            for (int v = 0; v < vocab; v++) bits[t][v] = Float.floatToIntBits(probs[v]);
            bits[t][vocab] = Float.floatToIntBits(s.logProbability(ids[(t + 1) % ids.length]));
        }
        return bits;
    }

    @ParameterizedTest
    @CsvSource({"FP32,false,MAPPED,2", "FP32,false,MAPPED,3", "FP32,true,MAPPED,2", "FP32,false,TRANSPOSED_COPY,2",
            "BF16,false,MAPPED,2", "BF16,true,MAPPED,3", "INT8,false,MAPPED,2", "INT8,true,MAPPED,3"})
    void splitStepsGiveTheBitsOfOneThread(WeightFormat format, boolean tied, Model.SoftmaxLayout layout, int threads) {
        int vocab = 517, hidden = 21; // 4H = 84 gate columns: blocks of 16 split unevenly, with a tail
        Path file = TestModels.write(dir, vocab, hidden, 2, tied, 4, 0.3f, format);
        int[] ids = new SplittableRandom(9).ints(40, 0, vocab).toArray();
        try (Model model = Model.load(file, layout); StepThreads split = new StepThreads(threads);
             Session alone = model.newSession(); Session shared = model.newSession(split)) {
            int[][] expected = run(alone, ids, vocab);
            int[][] got = run(shared, ids, vocab);
            for (int t = 0; t < ids.length; t++) assertArrayEquals(expected[t], got[t], "step " + t);
        }
    }

    /** Sessions on several threads share one StepThreads: whoever finds it busy runs alone, and every stream keeps its bits. */
    @Test
    void sessionsOnManyThreadsSharingThemKeepTheirOwnBits() throws Exception {
        int vocab = 800, hidden = 32;
        Path file = TestModels.write(dir, vocab, hidden, 2, false, 6, 0.3f, WeightFormat.INT8);
        try (Model model = Model.load(file); StepThreads split = new StepThreads(2)) {
            int streams = 6;
            List<int[]> words = new ArrayList<>();
            List<int[][]> expected = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                int[] ids = new SplittableRandom(100 + i).ints(60, 0, vocab).toArray();
                words.add(ids);
                try (Session s = model.newSession()) {
                    expected.add(run(s, ids, vocab));
                }
            }
            ExecutorService pool = Executors.newFixedThreadPool(streams);
            try {
                List<Future<int[][]>> results = new ArrayList<>();
                for (int i = 0; i < streams; i++) {
                    int[] ids = words.get(i);
                    results.add(pool.submit(() -> {
                        try (Session s = model.newSession(split)) {
                            return run(s, ids, vocab);
                        }
                    }));
                }
                for (int i = 0; i < streams; i++) {
                    int[][] got = results.get(i).get();
                    for (int t = 0; t < got.length; t++) assertArrayEquals(expected.get(i)[t], got[t], "stream " + i + " step " + t);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void closedThreadsLeaveTheirSessionsStepping() {
        int vocab = 300;
        Path file = TestModels.write(dir, vocab, 24, 1, false, 2, 0.3f, WeightFormat.FP32);
        int[] ids = new SplittableRandom(1).ints(10, 0, vocab).toArray();
        try (Model model = Model.load(file); Session alone = model.newSession()) {
            StepThreads split = new StepThreads(2);
            Session s = model.newSession(split);
            split.close();
            split.close(); // twice is fine
            int[][] expected = run(alone, ids, vocab), got = run(s, ids, vocab);
            for (int t = 0; t < ids.length; t++) assertArrayEquals(expected[t], got[t]);
            s.close();
        }
        assertThrows(IllegalArgumentException.class, () -> new StepThreads(0));
        try (StepThreads one = new StepThreads(1)) {
            assertEquals(1, one.threads());
        }
    }
}
