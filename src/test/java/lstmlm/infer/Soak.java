package lstmlm.infer;

import com.sun.management.ThreadMXBean;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sustained serving: THREADS threads for SECONDS open, use, fork, copy and close sessions and batch
 * scorers on one model, and every number they get is checked bit for bit against the answer computed
 * one at a time before. Run by {@link SoakTest} in a child JVM with native memory tracking, which this
 * reads (committed bytes, before and after, after a GC) through the DiagnosticCommand MBean.
 *
 * <p>Usage: {@code Soak MODEL SECONDS THREADS [WARM_UP_SECONDS]}; prints "soak ..." lines and exits 1 on
 * any mismatch. The warm-up runs the same work on all threads first, unmeasured: the JIT must have seen
 * every path before "no allocation per token" means anything.
 */
public final class Soak {
    static final int SENTENCES = 48, BATCH = 4;

    private Soak() {}

    /** The sequential answers: log P of each next token along each sentence, and each sentence's score. */
    record Reference(int[][] sentences, float[][] nextLogProb, double[] score, double[][] batchScores) {
        static Reference of(Model model, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            int v = model.vocabularySize();
            int[][] s = new int[SENTENCES][];
            float[][] lp = new float[SENTENCES][];
            double[] score = new double[SENTENCES];
            for (int i = 0; i < SENTENCES; i++) {
                s[i] = r.ints(3 + r.nextInt(30), 0, v).toArray();
                lp[i] = new float[s[i].length - 1];
                try (Session x = model.newSession()) {
                    for (int t = 0; t < s[i].length - 1; t++) {
                        x.feed(s[i][t]);
                        lp[i][t] = x.logProbability(s[i][t + 1]);
                    }
                    score[i] = x.score(s[i]).logProbability();
                }
            }
            double[][] batches = new double[SENTENCES / BATCH][];
            try (BatchScorer b = model.newBatchScorer(BATCH)) {
                for (int k = 0; k < batches.length; k++) batches[k] = scores(b, s, k);
            }
            return new Reference(s, lp, score, batches);
        }
    }

    static double[] scores(BatchScorer b, int[][] s, int k) {
        int[][] batch = new int[BATCH][];
        for (int j = 0; j < BATCH; j++) batch[j] = s[k * BATCH + j];
        return b.scoreIds(batch).stream().mapToDouble(SentenceScore::logProbability).toArray();
    }

    static final AtomicLong ops = new AtomicLong(), tokens = new AtomicLong(), sessions = new AtomicLong(), forks = new AtomicLong(),
            batches = new AtomicLong(), mismatches = new AtomicLong(), tokenBytes = new AtomicLong(), measuredTokens = new AtomicLong();

    /** One operation, chosen by {@code r}; every result compared with {@code ref}. */
    static void operate(Model model, Reference ref, SplittableRandom r, boolean measure) {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        int i = r.nextInt(SENTENCES);
        int[] s = ref.sentences()[i];
        switch (r.nextInt(4)) {
            case 0, 1 -> { // feed along, fork at a random point, both branches go on
                Session a = model.newSession();
                sessions.incrementAndGet();
                Session fork = null;
                int at = r.nextInt(s.length - 1);
                long before = mx.getCurrentThreadAllocatedBytes();
                long bytesInForks = 0;
                for (int t = 0; t < s.length - 1; t++) {
                    a.feed(s[t]);
                    check(a.logProbability(s[t + 1]), ref.nextLogProb()[i][t], "session");
                    if (fork != null) {
                        fork.feed(s[t]);
                        check(fork.logProbability(s[t + 1]), ref.nextLogProb()[i][t], "fork");
                    }
                    if (t == at && fork == null) {
                        long b0 = mx.getCurrentThreadAllocatedBytes();
                        fork = a.copy();
                        bytesInForks += mx.getCurrentThreadAllocatedBytes() - b0;
                        forks.incrementAndGet();
                        fork.reset(); // the fork replays the sentence from the start
                        for (int u = 0; u <= t; u++) fork.feed(s[u]);
                        check(fork.logProbability(s[t + 1]), ref.nextLogProb()[i][t], "fork");
                    }
                }
                long bytes = mx.getCurrentThreadAllocatedBytes() - before - bytesInForks;
                if (measure) {
                    tokenBytes.addAndGet(bytes);
                    measuredTokens.addAndGet(s.length - 1);
                }
                tokens.addAndGet(s.length - 1);
                a.close();
                if (fork != null) fork.close();
            }
            case 2 -> { // a sentence score, and a state copied into another session
                try (Session a = model.newSession(); Session b = model.newSession()) {
                    sessions.addAndGet(2);
                    if (a.score(s).logProbability() != ref.score()[i]) mismatch("score");
                    int cut = r.nextInt(s.length - 1);
                    a.reset();
                    for (int t = 0; t <= cut; t++) a.feed(s[t]);
                    b.copyStateFrom(a);
                    for (int t = cut; t < s.length - 1; t++) {
                        if (t > cut) b.feed(s[t]);
                        check(b.logProbability(s[t + 1]), ref.nextLogProb()[i][t], "copied state");
                    }
                    tokens.addAndGet(2L * s.length);
                }
            }
            default -> { // a batch scorer opened, used and closed
                int k = r.nextInt(SENTENCES / BATCH);
                try (BatchScorer b = model.newBatchScorer(BATCH)) {
                    double[] got = scores(b, ref.sentences(), k);
                    for (int j = 0; j < BATCH; j++) if (got[j] != ref.batchScores()[k][j]) mismatch("batch score");
                }
                batches.incrementAndGet();
            }
        }
        ops.incrementAndGet();
    }

    static void check(float got, float expected, String what) {
        if (Float.floatToIntBits(got) != Float.floatToIntBits(expected)) mismatch(what + ": " + got + " != " + expected);
    }

    static void mismatch(String what) {
        if (mismatches.getAndIncrement() < 10) System.out.println("soak MISMATCH " + what);
    }

    private static final Pattern COMMITTED = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern OTHER = Pattern.compile("-\\s+Other \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");

    /** Committed native memory in KB: [total, Other (what Arena/Unsafe allocate)], or nulls without -XX:NativeMemoryTracking. */
    static long[] nativeCommittedKb() throws Exception {
        String out = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                new Object[]{new String[]{"summary"}}, new String[]{String[].class.getName()});
        Matcher t = COMMITTED.matcher(out), o = OTHER.matcher(out);
        if (!t.find()) return null;
        return new long[]{Long.parseLong(t.group(2)), o.find() ? Long.parseLong(o.group(2)) : -1};
    }

    /** A full GC, and time for the cleaner to free the GC-managed arenas of dropped sessions. */
    static void settle() throws InterruptedException {
        for (int k = 0; k < 3; k++) {
            System.gc();
            Thread.sleep(200);
        }
    }

    /** THREADS threads doing {@link #operate} for SECONDS; returns the peak committed "Other" native KB seen (0 if not tracked). */
    static long runWorkers(Model model, Reference ref, int threads, double seconds, boolean measure, long seed) throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < threads; w++) {
            long id = seed + w;
            workers.add(Thread.ofPlatform().start(() -> {
                SplittableRandom r = new SplittableRandom(id);
                while (System.nanoTime() < end) operate(model, ref, r, measure);
            }));
        }
        long peak = 0;
        while (workers.stream().anyMatch(Thread::isAlive)) {
            Thread.sleep(250);
            long[] now = nativeCommittedKb();
            if (now != null) peak = Math.max(peak, now[1]);
        }
        for (Thread t : workers) t.join();
        return peak;
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        double seconds = Double.parseDouble(args[1]);
        int threads = Integer.parseInt(args[2]);
        double warmUp = args.length > 3 ? Double.parseDouble(args[3]) : 6;
        lstmlm.natives.ThreadPolicy.useBlasThreads(1); // many scorers on many threads: one OpenBLAS thread each (BatchScorer's advice)
        try (Model model = Model.load(file)) {
            Reference ref = Reference.of(model, 7);
            // warm-up: the same work on all threads, so the JIT has seen every path and every thread before we measure
            runWorkers(model, ref, threads, warmUp, false, 0);
            ops.set(0); tokens.set(0); sessions.set(0); forks.set(0); batches.set(0);
            settle();
            long[] before = nativeCommittedKb();
            long rssBefore = (long) (lstmlm.model.ProcessMemory.now().residentBytes() / 1024);
            long peakOther = runWorkers(model, ref, threads, seconds, true, 1000);
            settle();
            long[] after = nativeCommittedKb();
            long rssAfter = (long) (lstmlm.model.ProcessMemory.now().residentBytes() / 1024);
            System.out.printf(Locale.ROOT, "soak threads=%d seconds=%.0f ops=%d sessions=%d forks=%d batch_scorers=%d tokens=%d mismatches=%d%n",
                    threads, seconds, ops.get(), sessions.get(), forks.get(), batches.get(), tokens.get(), mismatches.get());
            System.out.printf(Locale.ROOT, "soak alloc_bytes_per_token=%.4f over %d tokens%n",
                    (double) tokenBytes.get() / Math.max(1, measuredTokens.get()), measuredTokens.get());
            if (before != null) {
                System.out.printf(Locale.ROOT, "soak native_committed_kb before=%d after=%d other_before=%d other_after=%d other_peak=%d%n",
                        before[0], after[0], before[1], after[1], peakOther);
            }
            System.out.printf(Locale.ROOT, "soak rss_kb before=%d after=%d%n", rssBefore, rssAfter);
            System.exit(mismatches.get() == 0 ? 0 : 1);
        }
    }
}
