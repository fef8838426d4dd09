package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Many threads on one model give bit for bit what the same work gives done one after another. */
class ConcurrencyTest {
    static final int THREADS = 12, STEPS = 150, VOCAB = 300;

    @TempDir
    Path dir;

    /** One job's results: every step's full distribution, a sampled word per step, sentence scores. */
    static float[] work(Model model, int job) {
        float[] out = new float[STEPS * (VOCAB + 1) + 2];
        SplittableRandom rnd = new SplittableRandom(job);
        try (Session s = model.newSession()) {
            float[] probs = new float[VOCAB];
            int next = job % VOCAB;
            for (int t = 0; t < STEPS; t++) {
                s.feed(next);
                s.probabilities(probs);
                System.arraycopy(probs, 0, out, t * (VOCAB + 1), VOCAB);
                next = s.sample(0.9f, t % 3 == 0 ? 0 : 25, rnd);
                out[t * (VOCAB + 1) + VOCAB] = next;
                if (t == STEPS / 2) {
                    Session fork = s.copy(); // forking mid-stream must not disturb anything
                    fork.feed(1);
                }
            }
            out[STEPS * (VOCAB + 1)] = (float) s.score(rnd.ints(12, 0, VOCAB).toArray()).logProbability();
        }
        try (BatchScorer scorer = model.newBatchScorer(5)) {
            int[][] sentences = new int[7][];
            for (int i = 0; i < 7; i++) sentences[i] = rnd.ints(3 + i, 0, VOCAB).toArray();
            double sum = 0;
            for (SentenceScore sc : scorer.scoreIds(sentences)) sum += sc.logProbability();
            out[STEPS * (VOCAB + 1) + 1] = (float) sum;
        }
        return out;
    }

    @Test
    void sessionsOnManyThreadsMatchSequentialBitForBit() throws Exception {
        manyThreadsMatchSequential();
    }

    /**
     * The same with the sequential work on an OpenMP team of another size than the pool's: oneDNN
     * packs the batch scorer's weights differently per team size, and each size must still get
     * oneDNN (the fallback to OpenBLAS gives other bits) and the same bits.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 3})
    void teamsOfOtherSizesGiveTheSameBits(int team) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(lstmlm.natives.OneDnn.available(), "no oneDNN here");
        int before = lstmlm.natives.ThreadPolicy.openMpThreads();
        lstmlm.natives.ThreadPolicy.useOpenMpThreads(team);
        try {
            manyThreadsMatchSequential();
        } finally {
            lstmlm.natives.ThreadPolicy.useOpenMpThreads(before);
        }
    }

    private void manyThreadsMatchSequential() throws Exception {
        Path file = TestModels.write(dir, VOCAB, 37, 2, 13, 0.4f);
        try (Model model = Model.load(file)) {
            int jobs = THREADS * 2;
            List<float[]> sequential = new ArrayList<>();
            for (int j = 0; j < jobs; j++) sequential.add(work(model, j));
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CyclicBarrier start = new CyclicBarrier(THREADS);
                List<Future<float[]>> futures = new ArrayList<>();
                for (int j = 0; j < jobs; j++) {
                    int job = j;
                    futures.add(pool.submit(() -> {
                        if (job < THREADS) start.await(); // the first wave starts together
                        return work(model, job);
                    }));
                }
                for (int j = 0; j < jobs; j++) {
                    float[] got = futures.get(j).get();
                    assertEquals(sequential.get(j).length, got.length);
                    int[] a = new int[got.length], b = new int[got.length];
                    for (int i = 0; i < got.length; i++) {
                        a[i] = Float.floatToIntBits(sequential.get(j)[i]);
                        b[i] = Float.floatToIntBits(got[i]);
                    }
                    assertArrayEquals(a, b, "job " + j);
                }
            } finally {
                // the jobs run native code and must end before the model closes under them, even when
                // an assertion has already failed (closing it first crashed the JVM in sgemm)
                pool.shutdown();
                pool.awaitTermination(2, java.util.concurrent.TimeUnit.MINUTES);
            }
        }
    }

    /**
     * Closing a model while other threads run batched steps, scorers and sessions on it waits for
     * their native products and then fails each of them with the model's "closed" error (a batcher's
     * session with its batch's failure); unmapping under a running GEMM crashed the JVM. A few
     * rounds, the close landing at a different point each.
     */
    @Test
    void closingUnderRunningWorkFailsItCleanly() throws Exception {
        int vocab = 10000; // big enough that most of a step is native GEMM over the mapped weights
        Path file = TestModels.write(dir, vocab, 384, 2, 13, 0.1f);
        for (int round = 0; round < 4; round++) {
            Model model = Model.load(file);
            int workers = 4;
            DynamicBatcher batcher = new DynamicBatcher(model, 8, 100); // the last worker's sessions step through it
            java.util.concurrent.CountDownLatch warm = new java.util.concurrent.CountDownLatch(workers);
            List<Throwable> endings = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int kind = w;
                Thread t = new Thread(() -> {
                    try {
                        // one OpenMP thread each: four spinning teams on two cores would crawl
                        lstmlm.natives.ThreadPolicy.useOpenMpThreads(1);
                        int[] ids = new int[16];
                        StepBatch batch = kind == 0 ? model.newStepBatch(16) : null;
                        BatchScorer scorer = kind == 1 ? model.newBatchScorer(8) : null;
                        Session session = kind == 2 ? model.newSession() : kind == 3 ? batcher.newSession() : null;
                        int[][] sentences = new int[8][4];
                        if (batch != null) batch.start(16);
                        for (long i = 0; ; i++) {
                            if (batch != null) {
                                for (int r = 0; r < 16; r++) ids[r] = (int) ((i * 7 + r) % vocab);
                                batch.step(ids);
                            } else if (scorer != null) {
                                scorer.scoreIds(sentences);
                            } else {
                                session.feed((int) (i % vocab));
                                session.logProbability(3);
                            }
                            if (i == 0) warm.countDown();
                        }
                    } catch (Throwable e) {
                        endings.add(e);
                    }
                });
                threads.add(t);
                t.start();
            }
            warm.await();
            Thread.sleep(round * 3L);
            model.close();
            for (Thread t : threads) t.join(60_000);
            assertEquals(workers, endings.size(), "every worker ends");
            batcher.close();
            for (Throwable e : endings) {
                org.junit.jupiter.api.Assertions.assertInstanceOf(IllegalStateException.class, e, e::toString);
            }
        }
    }
}
