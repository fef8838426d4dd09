package lstmlm.infer;

import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sessions of a {@link DynamicBatcher}, stepped on many threads in a randomised schedule, against
 * the same words stepped alone; failures and shutdown that never leave a thread waiting.
 */
class DynamicBatcherTest {
    @TempDir
    Path dir;

    /** Runs each task on its own thread and waits (bounded) for all; rethrows the first failure. */
    private static void runAll(List<Runnable> tasks) throws InterruptedException {
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (Runnable t : tasks) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    t.run();
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(t.isAlive(), "a thread is still waiting for its step");
        }
        if (!failures.isEmpty()) throw new AssertionError(failures.peek());
    }

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void everyStreamEqualsSteppingAloneUnderARandomSchedule(WeightFormat format) throws Exception {
        int vocab = 80, threads = 24;
        Path file = TestModels.write(dir, vocab, 16, 2, false, 41, 0.8f, format);
        try (Model model = Model.load(file); DynamicBatcher batcher = new DynamicBatcher(model, 8, 2000)) {
            List<Runnable> tasks = new ArrayList<>();
            for (int c = 0; c < threads; c++) {
                long seed = c;
                tasks.add(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    float[] got = new float[vocab], expected = new float[vocab];
                    try (Session batched = batcher.newSession(); Session alone = model.newSession()) {
                        for (int step = 0; step < 60; step++) {
                            int action = random.nextInt(20);
                            if (action == 0) { // now and then a fresh start
                                batched.reset();
                                alone.reset();
                                continue;
                            }
                            if (action == 1) Thread.yield();
                            if (action == 2) sleepMicros(random.nextInt(3000));
                            int id = random.nextInt(vocab);
                            batched.feed(id);
                            alone.feed(id);
                            for (int w = 0; w < vocab; w++) {
                                got[w] = batched.logProbability(w);
                                expected[w] = alone.logProbability(w);
                            }
                            for (int w = 0; w < vocab; w++) {
                                assertEquals(expected[w], got[w], 2e-5, "stream " + seed + " step " + step + " word " + w);
                            }
                        }
                        assertEquals(alone.score(new int[]{3, 4, 5}).logProbability(),
                                batched.score(new int[]{3, 4, 5}).logProbability(), 1e-4, "score through the batcher");
                    }
                });
            }
            runAll(tasks);
            assertTrue(batcher.steps() > batcher.batches(),
                    "no two steps were ever batched: " + batcher.steps() + " steps in " + batcher.batches() + " batches");
        }
    }

    @Test
    void aBatchOfOneIsTheSessionBitForBit() throws Exception {
        Path file = TestModels.write(dir, 30, 8, 2, 19, 0.6f);
        try (Model model = Model.load(file); DynamicBatcher batcher = new DynamicBatcher(model, 1, 0);
             Session batched = batcher.newSession(); Session alone = model.newSession()) {
            for (int t = 0; t < 20; t++) {
                batched.feed(t % 30);
                alone.feed(t % 30);
                for (int w = 0; w < 30; w++) assertEquals(alone.logProbability(w), batched.logProbability(w));
            }
            assertEquals(20, batcher.batches());
        }
    }

    /** The worker comes from the given factory, and the steps it runs on a one-thread team are unchanged. */
    @Test
    void theWorkerIsTheProgramsThread() throws Exception {
        Path file = TestModels.write(dir, 30, 8, 2, 19, 0.6f);
        AtomicInteger made = new AtomicInteger();
        java.util.concurrent.ThreadFactory factory = r -> {
            made.incrementAndGet();
            return Thread.ofPlatform().daemon().name("my-batcher").unstarted(() -> {
                if (lstmlm.natives.OneDnn.available()) lstmlm.natives.ThreadPolicy.useOpenMpThreads(1);
                r.run();
            });
        };
        java.util.concurrent.atomic.AtomicReference<String> ranOn = new java.util.concurrent.atomic.AtomicReference<>();
        try (Model model = Model.load(file);
             DynamicBatcher batcher = new DynamicBatcher(model, 1, 0, (rows, nanos) -> ranOn.set(Thread.currentThread().getName()), factory);
             Session batched = batcher.newSession(); Session alone = model.newSession()) {
            for (int t = 0; t < 10; t++) {
                batched.feed(t % 30);
                alone.feed(t % 30);
                for (int w = 0; w < 30; w++) assertEquals(alone.logProbability(w), batched.logProbability(w));
            }
            assertEquals(1, made.get());
            assertEquals("my-batcher", ranOn.get());
        }
        assertThrows(IllegalArgumentException.class, () -> {
            try (Model model = Model.load(file)) {
                new DynamicBatcher(model, 1, 0, (rows, nanos) -> {}, r -> null);
            }
        });
    }

    @Test
    void badWordsAndClosedSessionsNeverBlockTheOthers() throws Exception {
        Path file = TestModels.write(dir, 30, 8, 1, 7, 0.6f);
        try (Model model = Model.load(file); DynamicBatcher batcher = new DynamicBatcher(model, 4, 5000)) {
            AtomicInteger finished = new AtomicInteger();
            List<Runnable> tasks = new ArrayList<>();
            for (int c = 0; c < 6; c++) {
                int which = c;
                tasks.add(() -> {
                    Session s = batcher.newSession();
                    for (int t = 0; t < 30; t++) {
                        if (which == 0 && t == 5) {
                            assertThrows(IndexOutOfBoundsException.class, () -> s.feed(30)); // refused before it queues
                        }
                        if (which == 1 && t == 10) {
                            s.close();
                            assertThrows(IllegalStateException.class, () -> s.feed(1));
                            finished.incrementAndGet();
                            return;
                        }
                        s.feed(t % 30);
                    }
                    s.close();
                    finished.incrementAndGet();
                });
            }
            runAll(tasks);
            assertEquals(6, finished.get());
        }
    }

    @Test
    void closingCompletesQueuedStepsAndRefusesLaterOnes() throws Exception {
        Path file = TestModels.write(dir, 30, 8, 1, 9, 0.6f);
        try (Model model = Model.load(file)) {
            DynamicBatcher batcher = new DynamicBatcher(model, 64, 200_000); // a long wait: steps sit in the queue
            CountDownLatch started = new CountDownLatch(8);
            AtomicInteger completed = new AtomicInteger(), refused = new AtomicInteger();
            List<Runnable> tasks = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                tasks.add(() -> {
                    Session s = batcher.newSession();
                    started.countDown();
                    while (true) { // until close refuses a step (runAll fails the test if that never comes)
                        try {
                            s.feed(2);
                            assertTrue(s.hasPrediction());
                            completed.incrementAndGet();
                        } catch (IllegalStateException e) {
                            assertTrue(e.getMessage().contains("closed"), e.getMessage());
                            refused.incrementAndGet();
                            return;
                        }
                    }
                });
            }
            Thread closer = Thread.ofPlatform().start(() -> {
                try {
                    started.await();
                    sleepMicros(50_000);
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                batcher.close();
            });
            runAll(tasks);
            closer.join();
            assertEquals(8, refused.get(), "every thread's next step after close is refused, none left waiting");
            assertTrue(completed.get() >= 8, "the steps queued before close completed: " + completed.get());
            assertThrows(IllegalStateException.class, batcher::newSession);
            batcher.close(); // idempotent
        }
    }

    @Test
    void aModelClosedUnderTheBatcherFailsEveryWaitingStep() throws Exception {
        Path file = TestModels.write(dir, 30, 8, 1, 9, 0.6f);
        Model model = Model.load(file);
        try (DynamicBatcher batcher = new DynamicBatcher(model, 8, 1000)) {
            AtomicInteger failed = new AtomicInteger();
            CountDownLatch running = new CountDownLatch(4);
            List<Runnable> tasks = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                tasks.add(() -> {
                    Session s = batcher.newSession();
                    running.countDown();
                    while (true) {
                        try {
                            s.feed(3);
                        } catch (IllegalStateException e) {
                            failed.incrementAndGet();
                            return;
                        }
                    }
                });
            }
            Thread closer = Thread.ofPlatform().start(() -> {
                try {
                    running.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                sleepMicros(20_000);
                try {
                    model.close();
                } catch (IllegalStateException e) {
                    // a native call held the mapping at that instant: the model is marked closed all the same
                }
            });
            runAll(tasks);
            closer.join();
            assertEquals(4, failed.get());
        }
    }

    @Test
    void badSettingsAreClearErrors() {
        Path file = TestModels.write(dir, 10, 4, 1, 3, 0.5f);
        try (Model model = Model.load(file)) {
            assertThrows(IllegalArgumentException.class, () -> new DynamicBatcher(model, 0, 10));
            assertThrows(IllegalArgumentException.class, () -> new DynamicBatcher(model, 4, -1));
        }
    }

    private static void sleepMicros(long micros) {
        try {
            TimeUnit.MICROSECONDS.sleep(micros);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
