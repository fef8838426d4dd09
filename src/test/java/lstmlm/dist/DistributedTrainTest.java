package lstmlm.dist;

import lstmlm.cli.Main;
import lstmlm.modelfile.SafetensorsFile;
import lstmlm.train.Checkpoint;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code mpirun -np 2 lstm train --distributed} is {@code lstm train}: the same final weights (to
 * float rounding), perplexities and checkpoints; a run checkpointed by one process resumes on two
 * ranks and the reverse. Skipped without mpirun (see {@link DataParallelTest}).
 */
class DistributedTrainTest {
    @TempDir
    Path tmp;

    @Test
    void twoRanksTrainAndResumeAsOneProcess() throws Exception {
        String mpirun = MpiLaunch.mpirunOrSkip();
        Path data = TinyRun.corpus(tmp), config = TinyRun.configFile(tmp);
        List<String> common = List.of("--data-path", data.toString(), "--threads", "1", "--no-progress", "--checkpoint-every", "50");

        Path single = tmp.resolve("single");
        assertEquals(0, Main.run(args(common, "--config", config.toString(), "--seed", "5", "--save-path", single.toString(), "--max-epochs", "2")));

        Path two = tmp.resolve("two");
        String out = mpi(mpirun, args(common, "--config", config.toString(), "--seed", "5", "--save-path", two.toString(),
                "--max-epochs", "2", "--distributed"));
        assertTrue(out.contains("Data-parallel: 2 ranks"), out);
        assertEquals(1, out.lines().filter(l -> l.startsWith("Test Perplexity")).count(), "rank 0 alone prints:\n" + out);
        double worst = compare(single.resolve("model.safetensors"), two.resolve("model.safetensors"));

        // one process for epoch 1, two ranks for epoch 2; and the reverse
        Path mixed = tmp.resolve("mixed"), reverse = tmp.resolve("reverse");
        assertEquals(0, Main.run(args(common, "--config", config.toString(), "--seed", "5", "--save-path", mixed.toString(), "--max-epochs", "1")));
        mpi(mpirun, args(common, "--resume", mixed.toString(), "--max-epochs", "2", "--distributed"));
        worst = Math.max(worst, compare(single.resolve("model.safetensors"), mixed.resolve("model.safetensors")));
        mpi(mpirun, args(common, "--config", config.toString(), "--seed", "5", "--save-path", reverse.toString(), "--max-epochs", "1", "--distributed"));
        assertEquals(0, Main.run(args(common, "--resume", reverse.toString(), "--max-epochs", "2")));
        worst = Math.max(worst, compare(single.resolve("model.safetensors"), reverse.resolve("model.safetensors")));
        System.out.printf("distributed train: 2 ranks, and resumes across 1 <-> 2 ranks, match one process within %.2e%n", worst);
    }

    /**
     * SIGUSR1 to mpirun (which forwards it to every rank and kills nobody) stops all ranks after the
     * same window with a checkpoint of that position; one process resumes it to the end of the run.
     */
    @Test
    void sigusr1ToMpirunStopsEveryRankWithACheckpoint() throws Exception {
        String mpirun = MpiLaunch.mpirunOrSkip();
        Path data = TinyRun.corpus(tmp), config = TinyRun.configFile(tmp);
        List<String> common = List.of("--data-path", data.toString(), "--threads", "1", "--no-progress", "--checkpoint-every", "40");
        Path single = tmp.resolve("single"), run = tmp.resolve("stopped");
        assertEquals(0, Main.run(args(common, "--config", config.toString(), "--seed", "5", "--save-path", single.toString(), "--max-epochs", "2")));

        Process p = start(mpirun, args(common, "--config", config.toString(), "--seed", "5", "--save-path", run.toString(),
                "--max-epochs", "2", "--distributed"), tmp.resolve("stopped.log"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (lstmlm.train.CheckpointStore.checkpoints(run).isEmpty() && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(p.isAlive(), "the run ended before it was signalled");
        new ProcessBuilder("kill", "-USR1", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the ranks did not stop");
        String out = Files.readString(tmp.resolve("stopped.log"), StandardCharsets.UTF_8);
        assertTrue(p.exitValue() != 0 && out.contains("Stopped by SIGUSR1") && out.contains("holds this position exactly"), out);
        try (Checkpoint c = lstmlm.train.CheckpointStore.newest(run, System.out)) {
            assertTrue(c.progress().globalStep() > 40, "a checkpoint of the stop, after the first periodic one: " + c.file());
        }
        assertEquals(0, Main.run(args(common, "--resume", run.toString(), "--max-epochs", "2")));
        double worst = compare(single.resolve("model.safetensors"), run.resolve("model.safetensors"));
        System.out.printf("distributed stop: SIGUSR1 to mpirun, resumed by one process, matches within %.2e%n", worst);
    }

    /** Starts {@code lstm ARGS} on two ranks, both writing to {@code log}. */
    private static Process start(String mpirun, String[] lstmArgs, Path log) throws Exception {
        List<String> c = MpiLaunch.twoRanks(mpirun, Main.class.getName(), List.of(lstmArgs));
        return new ProcessBuilder(c).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** The largest relative difference of any weight; perplexities to 1e-5 relative. */
    private static double compare(Path expected, Path actual) {
        double worst = 0;
        try (SafetensorsFile a = SafetensorsFile.open(expected); SafetensorsFile b = SafetensorsFile.open(actual)) {
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            for (String name : a.tensors().keySet()) {
                float[] x = a.data(name).toArray(JAVA_FLOAT_UNALIGNED), y = b.data(name).toArray(JAVA_FLOAT_UNALIGNED);
                for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(x[i])));
            }
        }
        assertTrue(worst <= 1e-5, actual + ": weights differ by " + worst);
        try (Checkpoint a = Checkpoint.load(expected); Checkpoint b = Checkpoint.load(actual)) {
            List<Double> va = a.progress().validPerplexities(), vb = b.progress().validPerplexities();
            assertEquals(va.size(), vb.size());
            for (int i = 0; i < va.size(); i++) assertEquals(va.get(i), vb.get(i), 1e-5 * va.get(i), "valid perplexity " + i);
        }
        try (SafetensorsFile a = SafetensorsFile.open(expected); SafetensorsFile b = SafetensorsFile.open(actual)) {
            assertEquals(a.metadata().get("global_step"), b.metadata().get("global_step"));
        }
        return worst;
    }

    private String mpi(String mpirun, String[] lstmArgs) throws Exception {
        Path log = Files.createTempFile(tmp, "mpirun", ".log");
        Process p = start(mpirun, lstmArgs, log);
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(done, "mpirun did not finish:\n" + out);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static String[] args(List<String> common, String... more) {
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(List.of(more));
        a.addAll(common);
        return a.toArray(String[]::new);
    }
}
