package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sustained serving ({@link Soak}) in a child JVM with native memory tracking: 16 threads for 12 s
 * ({@code -Dlstm.soak.threads}, {@code -Dlstm.soak.seconds} for longer) open, use, fork, copy and close
 * sessions and batch scorers on one model. Every result bit-identical to the sequential answer; no
 * allocation per token; the native memory the arenas hold back where it was after a GC.
 */
class SoakTest {
    @TempDir
    Path dir;

    private static final Pattern FIELD = Pattern.compile("(\\w+)=([\\d.]+)");

    @Test
    void sixteenThreadsOpenUseForkAndCloseSessionsWithoutADifferenceOrALeak() throws Exception {
        Path model = TestModels.write(dir, 2000, 128, 2, 3, 0.3f);
        int threads = Integer.getInteger("lstm.soak.threads", 16);
        int seconds = Integer.getInteger("lstm.soak.seconds", 12);
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Path log = dir.resolve("soak.log");
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:-UseProfiledLoopPredicate", "-XX:NativeMemoryTracking=summary", "-cp", System.getProperty("java.class.path"),
                Soak.class.getName(), model.toString(), Integer.toString(seconds), Integer.toString(threads), "5")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        int exit = p.waitFor();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, exit, out);
        Map<String, Double> f = new HashMap<>();
        for (String line : out.lines().filter(l -> l.startsWith("soak ")).toList()) {
            Matcher m = FIELD.matcher(line);
            while (m.find()) f.put(m.group(1), Double.parseDouble(m.group(2)));
        }
        System.out.println(String.join("\n", out.lines().filter(l -> l.startsWith("soak ")).toList()));
        for (String k : List.of("mismatches", "tokens", "alloc_bytes_per_token", "other_before", "other_after", "other_peak", "forks", "batch_scorers")) {
            assertTrue(f.containsKey(k), k + " missing in:\n" + out);
        }
        assertEquals(0, f.get("mismatches"));
        assertTrue(f.get("tokens") > 1000 && f.get("forks") > 10 && f.get("batch_scorers") > 10, out);
        assertTrue(f.get("alloc_bytes_per_token") < 1, "allocation per token: " + f.get("alloc_bytes_per_token"));
        assertTrue(f.get("other_after") - f.get("other_before") < 1024,
                "native memory held by arenas grew from " + f.get("other_before") + " KB to " + f.get("other_after") + " KB");
        // closed sessions and scorers give their memory back to the model's pools: without them the
        // peak between collections grew with the run (2.5 GB in 120 s); with them it is the open ones'
        assertTrue(f.get("other_peak") < 64 * 1024, "native memory held by arenas peaked at " + f.get("other_peak") + " KB");
    }
}
