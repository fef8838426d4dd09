package lstmlm.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * With PyTorch installed (Debian's python3-torch; skipped without it, failed without it when
 * LSTM_REQUIRE_TORCH=1, as CI sets): a model PyTorch trains for 300 steps of the word_language_model
 * loop is imported and {@code lstm eval} gives the perplexity PyTorch computed on the same text; the
 * model {@code lstm export} writes back loads into the example's RNNModel with
 * {@code torch.load(weights_only=True)} and gives this engine's perplexity. Both to 1e-4 relative.
 * The PyTorch side is {@code src/test/resources/lstmlm/interop/roundtrip.py}.
 */
class PyTorchRoundTripTest {
    private static final Path SCRIPTS = Path.of("src/test/resources/lstmlm/interop").toAbsolutePath();
    private static final Pattern PYTHON_PPL = Pattern.compile("perplexity (\\S+)");
    private static final Pattern OUR_PPL = Pattern.compile("Test Perplexity: (\\S+)");

    @TempDir
    Path dir;

    /** A python that imports torch: $LSTM_PYTHON, Debian's /usr/bin/python3, or python3 on the PATH. */
    static String pythonWithTorch() {
        List<String> candidates = new ArrayList<>();
        if (System.getenv("LSTM_PYTHON") != null) candidates.add(System.getenv("LSTM_PYTHON"));
        candidates.add("/usr/bin/python3");
        candidates.add("python3");
        for (String python : candidates) {
            try {
                Process p = new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) return python;
                p.destroyForcibly();
            } catch (IOException e) {
                // not there: try the next
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    private static String python(String python, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(python, "roundtrip.py"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(SCRIPTS.toFile()).redirectErrorStream(true);
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1"); // no __pycache__ among the test resources
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "roundtrip.py timed out");
        assertEquals(0, p.exitValue(), "roundtrip.py " + String.join(" ", args) + " failed:\n" + out);
        return out;
    }

    private static double number(Pattern pattern, String text) {
        Matcher m = pattern.matcher(text);
        assertTrue(m.find(), "no perplexity in: " + text);
        return Double.parseDouble(m.group(1));
    }

    /** A made-up corpus of 200 words with structure to learn: a word's successor is mostly fixed. */
    private static void writeCorpus(Path folder) throws IOException {
        Files.createDirectories(folder);
        SplittableRandom r = new SplittableRandom(3);
        int vocab = 200;
        for (String split : List.of("train", "valid", "test")) {
            int lines = split.equals("train") ? 2000 : 200;
            StringBuilder text = new StringBuilder();
            for (int l = 0; l < lines; l++) {
                int w = r.nextInt(vocab), n = 4 + r.nextInt(17);
                for (int i = 0; i < n; i++) {
                    text.append(" t").append(w);
                    w = r.nextDouble() < 0.7 ? (w * 7 + 3) % vocab : r.nextInt(vocab);
                }
                text.append(" \n");
            }
            Files.writeString(folder.resolve(split + ".txt"), text);
        }
    }

    @Test
    void perplexitiesAgreeBothWays() throws Exception {
        String python = pythonWithTorch();
        if (python == null) {
            if ("1".equals(System.getenv("LSTM_REQUIRE_TORCH"))) fail("LSTM_REQUIRE_TORCH=1 but no python3 here imports torch");
            Assumptions.abort("PyTorch is not installed (apt-get install python3-torch)");
        }
        Path corpus = dir.resolve("corpus"), text = corpus.resolve("test.txt");
        writeCorpus(corpus);
        Path state = dir.resolve("trained.pt");
        double theirs = number(PYTHON_PPL, python(python, "train", corpus.toString(), text.toString(), state.toString(), "300"));

        Path model = dir.resolve("imported.safetensors");
        CliRun r = CliRun.of("import", "--from", "pytorch", state.toString(), "--corpus", corpus.toString(), "--out", model.toString());
        assertEquals(0, r.exit(), r.err());
        r = CliRun.of("eval", "--model", model.toString(), "--file", text.toString(), "--threads", "2");
        assertEquals(0, r.exit(), r.err());
        double ours = number(OUR_PPL, r.out());
        assertTrue(theirs < 100, "PyTorch's 300 steps learned little: " + theirs + " on 200 words");
        assertEquals(1, ours / theirs, 1e-4, "lstm eval " + ours + " vs PyTorch " + theirs);

        Path back = dir.resolve("exported.pt");
        r = CliRun.of("export", "--to", "pytorch", model.toString(), "--out", back.toString());
        assertEquals(0, r.exit(), r.err());
        double reloaded = number(PYTHON_PPL, python(python, "eval", corpus.toString(), text.toString(), back.toString(),
                dir.resolve("exported.json").toString()));
        System.out.printf("PyTorch trained: %.9f; lstm eval of the import: %.3f; PyTorch on the export: %.9f%n", theirs, ours, reloaded);
        assertEquals(1, reloaded / ours, 1e-4, "PyTorch on the exported model " + reloaded + " vs lstm eval " + ours);
    }
}
