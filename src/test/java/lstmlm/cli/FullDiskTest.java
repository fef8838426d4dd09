package lstmlm.cli;

import lstmlm.train.Checkpoint;
import lstmlm.train.CheckpointStore;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A save that cannot complete, for real: {@code lstm train} in a child JVM under a file-size limit
 * smaller than a checkpoint ({@code ulimit -f}; the JVM ignores SIGXFSZ, so the write fails with
 * EFBIG as on a full disk). The error says what and where; the previous checkpoint is untouched and
 * loads; no temp file stays; without the limit the run resumes.
 */
class FullDiskTest {
    @TempDir
    Path tmp;

    @Test
    void aSaveBeyondTheFileSizeLimitFailsCleanlyAndThePreviousCheckpointResumes() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash for ulimit");
        Path data = TinyRun.corpus(tmp), config = TinyRun.configFile(tmp), dir = tmp.resolve("run");
        List<String> common = List.of("--data-path", data.toString(), "--checkpoint-every", "20", "--threads", "1",
                "--set", "hidden_size=32");
        Result first = run(0, args("--config", config.toString(), "--save-path", dir.toString(), "--max-epochs", "1"), common);
        assertEquals(0, first.exit(), first.err());
        Path previous = CheckpointStore.checkpoints(dir).getLast();
        byte[] before = Files.readAllBytes(previous);
        assertTrue(before.length > 40 * 1024, "a checkpoint larger than the limit: " + before.length);

        Result limited = run(40, args("--resume", dir.toString(), "--max-epochs", "2"), common); // 40 KB
        assertEquals(2, limited.exit(), limited.err());
        String err = limited.err();
        assertTrue(err.contains("Could not write checkpoint " + dir) && err.contains("File too large")
                && err.contains("The previous checkpoint " + previous + " is intact") && err.contains("--resume " + dir), err);
        System.out.println("full disk: exit " + limited.exit() + ", stderr:\n" + err.strip());
        try (var files = Files.list(dir)) {
            List<String> left = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp") || n.endsWith(".bad")).toList();
            assertEquals(List.of(), left, "temp or set-aside files");
        }
        assertArrayEquals(before, Files.readAllBytes(previous), "the previous checkpoint is byte for byte as it was");
        try (Checkpoint c = CheckpointStore.newest(dir, System.out)) {
            assertEquals(previous, c.file());
        }

        Result resumed = run(0, args("--resume", dir.toString(), "--max-epochs", "2"), common);
        assertEquals(0, resumed.exit(), resumed.err());
        try (Checkpoint c = Checkpoint.load(dir.resolve(CheckpointStore.FINAL))) {
            assertEquals(2, c.progress().validPerplexities().size());
        }
    }

    private static List<String> args(String... a) {
        List<String> l = new ArrayList<>(List.of("train"));
        l.addAll(Arrays.asList(a));
        return l;
    }

    private record Result(int exit, String err) {}

    /** The lstm command in a child JVM, under {@code ulimit -f KB} when kb > 0. */
    private Result run(int kb, List<String> args, List<String> common) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        cmd.addAll(common);
        if (kb > 0) {
            StringBuilder line = new StringBuilder("ulimit -f " + kb + "; exec");
            for (String c : cmd) line.append(" '").append(c.replace("'", "'\\''")).append('\'');
            cmd = List.of("/bin/bash", "-c", line.toString());
        }
        Path err = Files.createTempFile(tmp, "child", ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
        int exit = p.waitFor();
        return new Result(exit, Files.readString(err, StandardCharsets.UTF_8));
    }
}
