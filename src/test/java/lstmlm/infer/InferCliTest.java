package lstmlm.infer;

import lstmlm.cli.Main;
import lstmlm.errors.UserException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code lstm generate} and {@code lstm score} end to end on a small random model. */
class InferCliTest {
    @TempDir
    Path dir;

    static String run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        assertEquals(0, code, "exit code; stderr: " + err);
        return out.toString();
    }

    @Test
    void generateIsSeededAndUsesOnlyVocabularyWords() {
        Path file = TestModels.write(dir, 40, 10, 2, 21, 1.0f);
        String a = run("generate", "--model", file.toString(), "--prompt", "w3 w5 unknown", "--words", "30",
                "--temperature", "0.8", "--top-k", "10", "--seed", "7");
        String b = run("generate", "--model", file.toString(), "--prompt", "w3 w5 unknown", "--words", "30",
                "--temperature", "0.8", "--top-k", "10", "--seed", "7");
        assertEquals(a, b);
        // steps split over threads give the same bits, so the same draws
        assertEquals(a, run("generate", "--model", file.toString(), "--prompt", "w3 w5 unknown", "--words", "30",
                "--temperature", "0.8", "--top-k", "10", "--seed", "7", "--threads", "3"));
        assertTrue(a.startsWith("w3 w5 unknown"), a);
        List<String> words = TestModels.words(40);
        int count = 0;
        for (String w : a.replace("w3 w5 unknown", "").trim().split("\\s+")) {
            if (w.isEmpty()) continue;
            assertTrue(words.contains(w) && !w.equals("<eos>"), w);
            count++;
        }
        assertTrue(count <= 30 && count > 0, a);
        String greedy = run("generate", "--model", file.toString(), "--words", "5", "--temperature", "0");
        assertEquals(greedy, run("generate", "--model", file.toString(), "--words", "5", "--temperature", "0", "--seed", "99"));
    }

    @Test
    void scorePrintsEachLineAndTotalsWithUnknownCount() throws Exception {
        Path file = TestModels.write(dir, 40, 10, 2, 22, 0.5f);
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "w3 w4 w5\n\nw7 zzz w9 qqq\n");
        String out = run("score", "--model", file.toString(), text.toString());
        String[] lines = out.strip().split("\n");
        assertEquals("line\tlog_prob\ttokens\tperplexity\tunknown", lines[0]);
        String[] first = lines[1].split("\t"), second = lines[2].split("\t"), total = lines[3].split("\t");
        assertEquals("1", first[0]);
        assertEquals("3", second[0]); // the empty line 2 is skipped
        assertEquals("4", first[2]);
        assertEquals("2", second[4]);
        try (Model m = Model.load(file); Session s = m.newSession()) {
            SentenceScore expected = s.score(List.of("w7", "zzz", "w9", "qqq"));
            assertEquals(expected.logProbability(), Double.parseDouble(second[1]), 1e-3);
            assertEquals(expected.perplexity(), Double.parseDouble(second[3]), 1e-2);
        }
        assertEquals("total", total[0]);
        assertEquals("9", total[2]);
        assertEquals(Double.parseDouble(first[1]) + Double.parseDouble(second[1]), Double.parseDouble(total[1]), 1e-3);
        assertTrue(lines[4].contains("2 word(s) outside the vocabulary"), lines[4]);
    }

    /** {@code bench --latency --json}: one line of JSON whose bound is the larger of its two halves, in text the same figures. */
    @Test
    void latencyBenchPrintsItsBoundAndWhichHalfSetsIt() throws Exception {
        Path file = TestModels.write(dir, 300, 16, 1, 23, 0.5f);
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                printed("bench", "--latency", "--json", "--model", file.toString(), "--step-threads", "2").strip());
        assertEquals(2, json.get("step_threads").asInt());
        double bandwidth = json.get("bandwidth_bound_us").asDouble(), compute = json.get("compute_bound_us").asDouble();
        assertEquals(Math.max(bandwidth, compute), json.get("bound_us").asDouble(), 1e-9);
        assertTrue(List.of("compute", "cache bandwidth", "memory bandwidth").contains(json.get("bound_kind").asText()), json.toString());
        assertEquals(json.get("p50_us").asDouble() / json.get("bound_us").asDouble(), json.get("ratio_to_bound").asDouble(), 1e-9);
        String text = printed("bench", "--latency", "--model", file.toString());
        assertTrue(text.contains("one thread's bound:") && text.contains("GFLOP/s fused multiply-add"), text);
    }

    /** What a command that prints to System.out (bench) printed there. */
    private static String printed(String... args) {
        java.io.PrintStream was = System.out;
        var bytes = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            run(args);
        } finally {
            System.setOut(was);
        }
        return bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void badModelPathIsAUserError() {
        assertEquals(2, Main.run("score", "--model", dir.resolve("nope.safetensors").toString(), "-"));
        assertEquals(2, Main.run("generate", "--model", dir.resolve("nope.safetensors").toString()));
    }
}
