package lstmlm.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** {@code lstm} in a child JVM on the test class path: its stdout line by line, its stderr in a file, signals by name. */
record ChildJvm(Process process, LinkedBlockingQueue<String> lines, Path errFile) {
    static ChildJvm start(boolean defaultSignals, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>();
        if (defaultSignals) cmd.addAll(List.of("env", "--default-signal=INT,TERM"));
        cmd.addAll(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:-UseProfiledLoopPredicate", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        Path err = Files.createTempFile("signal-child", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException ignored) {
                // the child is gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        return new ChildJvm(p, lines, err);
    }

    boolean awaitLine(java.util.function.Predicate<String> wanted, int seconds) throws InterruptedException {
        return firstLine(wanted, seconds) != null;
    }

    /** The first stdout line {@code wanted} accepts within {@code seconds}, or null (timed out, or the child exited). */
    String firstLine(java.util.function.Predicate<String> wanted, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            String l = lines.poll(50, TimeUnit.MILLISECONDS);
            if (l != null && wanted.test(l)) return l;
            if (l == null && !process.isAlive()) return null;
        }
        return null;
    }

    void signal(String name) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-s", name, Long.toString(process.pid())).start().waitFor();
    }

    int waitFor() throws InterruptedException {
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the child did not exit in 120 s");
        }
        return process.exitValue();
    }

    String err() throws IOException {
        return Files.readString(errFile, StandardCharsets.UTF_8);
    }
}
