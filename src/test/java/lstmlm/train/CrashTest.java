package lstmlm.train;

import lstmlm.model.LanguageModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A JVM killed with SIGKILL while it writes checkpoints leaves the previous one loadable. */
class CrashTest {
    @TempDir
    Path dir;

    @Test
    void aChildKilledWhileSavingLeavesALoadablePreviousCheckpoint() throws Exception {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        SplittableRandom random = new SplittableRandom(3);
        for (int round = 0; round < 3; round++) {
            long firstStep = 1000L * (round + 1);
            Process child = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector",
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    CheckpointWriterLoop.class.getName(), dir.toString(), Long.toString(firstStep))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
            try {
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (newestStep() < firstStep + 1) { // at least two written, so a third is likely in flight
                    assertTrue(child.isAlive(), "the child died: " + Files.readString(dir.resolve("child.log")));
                    assertTrue(System.nanoTime() < deadline, "the child wrote nothing in 60 s");
                    Thread.sleep(5);
                }
                Thread.sleep(random.nextInt(5, 120));
            } finally {
                child.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no finally blocks
                child.waitFor();
            }
            assertEquals(137, child.exitValue(), "killed by SIGKILL");
            try (Checkpoint c = CheckpointStore.newest(dir, System.out);
                 LanguageModel expected = new LanguageModel(c.weights().shape())) {
                long step = c.progress().globalStep();
                assertTrue(step >= firstStep + 1, "newest is " + step);
                expected.initialize(step, 0.1f);
                assertArrayEquals(expected.params.toArray(JAVA_FLOAT), TinyRun.weights(c));
            }
            // nothing was set aside as bad: every complete name holds a complete file
            try (var files = Files.list(dir)) {
                assertTrue(files.noneMatch(p -> p.toString().endsWith(".bad")));
            }
        }
    }

    private long newestStep() {
        List<Path> all = CheckpointStore.checkpoints(dir);
        return all.isEmpty() ? -1 : Long.parseLong(all.getLast().getFileName().toString().replaceAll("\\D", ""));
    }
}
