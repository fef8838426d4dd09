package lstmlm.fuzz;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fuzzes one {@code @FuzzTest} for a fixed time in a child JVM, with Jazzer's own launcher (libFuzzer
 * inside): Jazzer fuzzes one target per JVM, and a child keeps its instrumentation and any crash away
 * from the test run. The child starts from the target's seeds (its Inputs folder in the test resources)
 * plus what earlier runs found (target/fuzz/corpus/TARGET, kept until {@code clean}); a crash leaves its
 * input in target/fuzz/crashes. libFuzzer's {@code -timeout} turns a hang into a finding and
 * {@code -rss_limit_mb} a runaway allocation; the child's heap is capped so an OutOfMemoryError shows.
 */
public final class FuzzRunner {
    /** Every target: class and method. */
    public static final List<String> TARGETS = List.of(
            "lstmlm.fuzz.ModelFileFuzzTest#modelFile",
            "lstmlm.fuzz.ModelFileFuzzTest#sealedModelFile",
            "lstmlm.fuzz.ModelFileFuzzTest#headerNumbers",
            "lstmlm.fuzz.ConfigFuzzTest#configFile",
            "lstmlm.fuzz.CorpusFuzzTest#corpusFiles",
            "lstmlm.data.TarFuzzTest#tarEntries",
            "lstmlm.data.TarFuzzTest#ptbArchive",
            "lstmlm.fuzz.RequestFuzzTest#requestBodies",
            "lstmlm.interop.PickleFuzzTest#stateDictPickles");

    /** What one run did: libFuzzer's figures (cov: edges covered, ft: features) and, on a finding, the input. */
    public record Result(String target, int exitCode, long executions, int coverage, int features, int corpus,
                         double seconds, Path crash, String logTail) {
        public boolean clean() {
            return exitCode == 0;
        }

        public String summary() {
            return String.format(Locale.ROOT, "%-45s %s  %,d executions in %.0f s, cov %d, ft %d, corpus %d%s", target,
                    clean() ? "clean" : "FINDING (exit " + exitCode + ")", executions, seconds, coverage, features, corpus,
                    crash != null ? ", input " + crash : "");
        }
    }

    private static final Pattern COV = Pattern.compile("cov: (\\d+) ft: (\\d+) corp: (\\d+)");
    private static final Pattern DONE = Pattern.compile("Done (\\d+) runs in");

    private FuzzRunner() {}

    private static boolean modifiedSince(Path f, java.nio.file.attribute.FileTime t) {
        try {
            return Files.getLastModifiedTime(f).compareTo(t) >= 0;
        } catch (IOException e) {
            return true; // named rather than hidden
        }
    }

    /** Fuzzes {@code target} ("class#method") for {@code seconds}; {@code work} holds corpus/, crashes/ and logs/. */
    public static Result run(String target, int seconds, Path work) throws IOException, InterruptedException {
        String cls = target.substring(0, target.indexOf('#')), method = target.substring(target.indexOf('#') + 1);
        String name = cls.substring(cls.lastIndexOf('.') + 1) + "." + method;
        Path corpus = Files.createDirectories(work.resolve("corpus").resolve(name));
        Path crashes = Files.createDirectories(work.resolve("crashes").resolve(name));
        Path log = Files.createDirectories(work.resolve("logs")).resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of(javaBinary(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-XX:-UseProfiledLoopPredicate", "-Xmx768m", "-Xss8m",
                "-cp", classPath(), "com.code_intelligence.jazzer.Jazzer",
                "--target_class=" + cls, "--target_method=" + method,
                "-max_total_time=" + seconds, "-timeout=20", "-rss_limit_mb=3072", "-print_final_stats=1",
                "-artifact_prefix=" + crashes.toAbsolutePath() + File.separator, corpus.toAbsolutePath().toString()));
        // Jazzer adds the target's seeds itself: its Inputs folder in the test resources, as on the class path
        Path dict = dictionary(cls);
        if (dict != null) cmd.add(cmd.size() - 1, "-dict=" + dict.toAbsolutePath());
        long start = System.nanoTime();
        java.nio.file.attribute.FileTime began = java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 1000);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .directory(work.toFile()).start();
        if (!p.waitFor(seconds + 300L, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(target + ": the fuzzer did not stop " + seconds + " s after its budget; see " + log);
        }
        double took = (System.nanoTime() - start) / 1e9;
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        long executions = 0;
        int cov = 0, ft = 0, corp = 0;
        for (String line : lines) {
            Matcher m = COV.matcher(line);
            if (m.find()) {
                cov = Integer.parseInt(m.group(1));
                ft = Integer.parseInt(m.group(2));
                corp = Integer.parseInt(m.group(3));
            }
            Matcher d = DONE.matcher(line);
            if (d.find()) executions = Long.parseLong(d.group(1));
            if (line.startsWith("stat::number_of_executed_units:")) executions = Long.parseLong(line.replaceAll("\\D+", ""));
        }
        Path crash = null;
        try (var found = Files.list(crashes)) {
            // this run's input only: an earlier run's finding stays in the folder until it is copied or cleaned
            crash = found.filter(f -> !f.getFileName().toString().endsWith(".java"))
                    .filter(f -> modifiedSince(f, began)).findFirst().orElse(null);
        }
        StringBuilder tail = new StringBuilder();
        for (String line : lines.subList(Math.max(0, lines.size() - 40), lines.size())) {
            if (!line.startsWith("INFO: Instrumented")) tail.append(line).append('\n');
        }
        return new Result(target, p.exitValue(), executions, cov, ft, corp, took, crash, tail.toString());
    }

    /** Targets whose inputs hold numbers in text get a dictionary of the format's keys and edge integers. */
    static final java.util.Map<String, String> DICTIONARIES = java.util.Map.of(
            "lstmlm.fuzz.ModelFileFuzzTest", "safetensors.dict",
            "lstmlm.fuzz.RequestFuzzTest", "requests.dict");

    /** The target class's libFuzzer dictionary as a file, or null: copied out of the test resources. */
    private static Path dictionary(String cls) throws IOException {
        String name = DICTIONARIES.get(cls);
        if (name == null) return null;
        try (var in = FuzzRunner.class.getResourceAsStream("/lstmlm/fuzz/dictionaries/" + name)) {
            if (in == null) throw new IllegalStateException("no dictionary " + name + " in the test resources");
            Path out = Files.createDirectories(Path.of("target", "fuzz", "dictionaries")).resolve(name);
            Files.write(out, in.readAllBytes());
            return out;
        }
    }

    private static String javaBinary() {
        return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** Surefire runs tests from a manifest-only jar and names the real class path in this property. */
    private static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /**
     * {@code FuzzRunner SECONDS [TARGET...]} (TARGET: "class#method" or a method name): fuzzes each target
     * in turn and prints one line each; exit 1 when any found something.
     */
    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        List<String> targets = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            targets.add(TARGETS.stream().filter(t -> t.equals(a) || t.endsWith("#" + a)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no fuzz target " + a + "; targets: " + TARGETS)));
        }
        if (targets.isEmpty()) targets.addAll(TARGETS);
        Path work = Path.of("target", "fuzz");
        boolean clean = true;
        for (String t : targets) {
            Result r = run(t, seconds, work);
            System.out.println(r.summary());
            if (!r.clean()) {
                clean = false;
                System.out.println(r.logTail());
            }
        }
        System.exit(clean ? 0 : 1);
    }
}
