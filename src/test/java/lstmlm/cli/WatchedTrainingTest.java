package lstmlm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.train.Checkpoint;
import lstmlm.train.CheckpointStore;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train --metrics --plot off a terminal: the log stays TensorFlow's lines, byte for byte, and the files appear. */
class WatchedTrainingTest {
    @TempDir
    Path tmp;

    static List<JsonNode> jsonLines(Path file) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(file)) out.add(json.readTree(line)); // throws on a line that is not JSON
        return out;
    }

    /** The TF lines the numbers in the metrics file must have printed, in TF's order and format. */
    static String tensorFlowLinesFrom(List<JsonNode> events) {
        StringBuilder sb = new StringBuilder();
        int epochStarted = 0;
        for (JsonNode e : events) {
            int epoch = e.get("epoch").asInt();
            switch (e.get("event").asText()) {
                case "progress" -> {
                    if (epochStarted < epoch) {
                        sb.append(String.format(Locale.ROOT, "Epoch: %d Learning rate: %.3f%n", epoch, e.get("lr").asDouble()));
                        epochStarted = epoch;
                    }
                    // the metrics' step counts windows done; TF's fraction uses the 0-based window index
                    sb.append(String.format(Locale.ROOT, "%.3f perplexity: %.3f speed: %.0f wps%n",
                            (e.get("step").asInt() - 1) * 1.0 / e.get("epoch_size").asInt(),
                            e.get("train_ppl").asDouble(), e.get("wps").asDouble()));
                }
                case "epoch" -> {
                    sb.append(String.format(Locale.ROOT, "Epoch: %d Train Perplexity: %.3f%n", epoch, e.get("train_ppl").asDouble()));
                    sb.append(String.format(Locale.ROOT, "Epoch: %d Valid Perplexity: %.3f%n", epoch, e.get("valid_ppl").asDouble()));
                }
                case "test" -> sb.append(String.format(Locale.ROOT, "Test Perplexity: %.3f%n", e.get("test_ppl").asDouble()));
                default -> throw new AssertionError("unknown event " + e);
            }
        }
        return sb.toString();
    }

    /** What train printed from the first epoch line to the test line: the part TF prints. */
    static String trainingLines(String out) {
        int from = out.indexOf("Epoch: 1 Learning rate");
        int testLine = out.indexOf("Test Perplexity: ");
        return out.substring(from, out.indexOf('\n', testLine) + 1);
    }

    @Test
    void offATerminalTheLogIsTensorFlowsLinesAndTheMetricsAndPlotAppear() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path metrics = tmp.resolve("run.jsonl"), plot = tmp.resolve("run.png");
        var run = CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1",
                "--max-epochs", "2", "--metrics", metrics.toString(), "--plot", plot.toString());
        assertEquals(0, run.exit(), run.err());
        assertEquals("", run.err(), "nothing to warn about");
        assertFalse(run.out().contains("\r") || run.out().contains("\033"), "no bar, no escape codes off a terminal");

        List<JsonNode> events = jsonLines(metrics);
        assertEquals(List.of("epoch", "epoch", "test"),
                events.stream().map(e -> e.get("event").asText()).filter(k -> !k.equals("progress")).toList());
        assertTrue(events.stream().filter(e -> e.get("event").asText().equals("progress")).count() >= 2 * 9,
                "a line per TF progress line (~10 an epoch)");
        for (JsonNode e : events) assertTrue(e.get("elapsed_s").asDouble() >= 0, e.toString());
        // byte for byte: what was printed is exactly what the metrics say TF printed
        assertEquals(tensorFlowLinesFrom(events), trainingLines(run.out()));

        var image = ImageIO.read(plot.toFile());
        assertNotNull(image, "the plot is a PNG");
        try (var files = Files.list(tmp)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary plot left");
        }
    }

    @Test
    void theWatchersChangeNoByteOfTheLogButTheSpeeds() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        var plain = CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1", "--max-epochs", "1");
        var watched = CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1", "--max-epochs", "1",
                "--metrics", tmp.resolve("m.jsonl").toString(), "--plot", tmp.resolve("p.svg").toString(), "--no-progress");
        assertEquals(0, plain.exit(), plain.err());
        assertEquals(0, watched.exit(), watched.err());
        // speeds and wall time are the clock's; every other byte is the same
        String masked1 = mask(plain.out()), masked2 = mask(watched.out());
        assertEquals(masked1, masked2);
        assertTrue(masked1.contains("speed: # wps"), masked1);
    }

    private static String mask(String log) {
        return Arrays.stream(log.split("\n", -1))
                .map(l -> l.replaceAll("speed: \\d+ wps", "speed: # wps").replaceAll("^Wall time: .*", "Wall time: #"))
                .reduce((a, b) -> a + "\n" + b).orElseThrow();
    }

    @Test
    void aResumedRunAppendsToItsMetricsAndRedrawsTheWholeCurve() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path save = tmp.resolve("ckpt"), metrics = tmp.resolve("run.jsonl"), plot = tmp.resolve("run.png");
        var first = CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1",
                "--max-epochs", "1", "--save-path", save.toString(), "--metrics", metrics.toString());
        assertEquals(0, first.exit(), first.err());
        int linesBefore = jsonLines(metrics).size();
        var resumed = CliRun.of("train", "--resume", save.toString(), "--data-path", data, "--threads", "1",
                "--max-epochs", "2", "--metrics", metrics.toString(), "--plot", plot.toString());
        assertEquals(0, resumed.exit(), resumed.err());
        List<JsonNode> events = jsonLines(metrics);
        assertTrue(events.size() > linesBefore + 10, "appended");
        assertEquals(List.of(1, 2), events.stream().filter(e -> e.get("event").asText().equals("epoch"))
                .map(e -> e.get("epoch").asInt()).toList());
        double lastFirstRun = events.get(linesBefore - 1).get("elapsed_s").asDouble();
        assertTrue(events.getLast().get("elapsed_s").asDouble() > lastFirstRun, "the clock goes on across the resume");
        assertNotNull(ImageIO.read(plot.toFile()));
    }

    @Test
    void aRunResumedAfterACrashHasTheStraightRunsMetricsFileButTheClock() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path straight = tmp.resolve("straight.jsonl"), crashed = tmp.resolve("crashed.jsonl"), save = tmp.resolve("run");
        assertEquals(0, CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1", "--seed", "9",
                "--max-epochs", "2", "--metrics", straight.toString()).exit());
        var whole = CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1", "--seed", "9",
                "--max-epochs", "2", "--metrics", crashed.toString(), "--save-path", save.toString(),
                "--checkpoint-every", "50", "--keep", "100");
        assertEquals(0, whole.exit(), whole.err());
        // as if the process had died after writing every line: only the checkpoints up to window 550 survive
        List<Path> checkpoints = CheckpointStore.checkpoints(save);
        Path survivor = save.resolve("ckpt-0000000550.safetensors");
        assertTrue(checkpoints.contains(survivor), checkpoints.toString());
        for (Path c : checkpoints) if (c.compareTo(survivor) > 0) Files.delete(c);
        Files.delete(save.resolve("model.safetensors"));
        double timeAtSurvivor;
        try (Checkpoint c = Checkpoint.load(survivor)) {
            assertEquals(1, c.progress().epoch(), "the survivor is inside epoch 2");
            timeAtSurvivor = c.progress().elapsedSeconds();
            assertTrue(timeAtSurvivor > 0, "the checkpoint knows the run's time: " + timeAtSurvivor);
        }
        var resumed = CliRun.of("train", "--resume", save.toString(), "--data-path", data, "--threads", "1",
                "--max-epochs", "2", "--metrics", crashed.toString());
        assertEquals(0, resumed.exit(), resumed.err());

        // the lines past window 550 were dropped and written again: every field the same but speed and time
        assertEquals(withoutClock(jsonLines(straight)), withoutClock(jsonLines(crashed)));
        double previous = 0;
        for (JsonNode e : jsonLines(crashed)) {
            double t = e.get("elapsed_s").asDouble();
            assertTrue(t >= previous, "the clock never runs back: " + e);
            previous = t;
        }
        assertTrue(previous > timeAtSurvivor, "the resumed process adds its time to the checkpoint's");
    }

    private static List<String> withoutClock(List<JsonNode> events) {
        return events.stream().map(e -> {
            ObjectNode copy = e.deepCopy();
            copy.remove(List.of("wps", "elapsed_s"));
            return copy.toString();
        }).toList();
    }

    @Test
    void badOutputPathsAreErrorsBeforeTrainingStarts() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path missing = tmp.resolve("no-such-folder").resolve("run.jsonl");
        // no --data-path: the check comes before the data is looked for (or downloaded)
        var noFolder = CliRun.of("train", "--config", config, "--threads", "1", "--metrics", missing.toString());
        assertEquals(2, noFolder.exit());
        assertTrue(noFolder.err().contains(missing.toString()) && noFolder.err().contains("does not exist"), noFolder.err());
        assertEquals("", noFolder.out(), "nothing loaded, downloaded or trained");

        Path gif = tmp.resolve("curve.gif");
        var badExtension = CliRun.of("train", "--config", config, "--data-path", data, "--plot", gif.toString());
        assertEquals(2, badExtension.exit());
        assertTrue(badExtension.err().contains(gif.toString()) && badExtension.err().contains("'.gif'"), badExtension.err());

        // appending on --resume to a file that is not metrics: refused before any of it changes
        Path save = tmp.resolve("ckpt");
        assertEquals(0, CliRun.of("train", "--config", config, "--data-path", data, "--threads", "1",
                "--max-epochs", "1", "--save-path", save.toString()).exit());
        Path notes = Files.writeString(tmp.resolve("notes.jsonl"), "training notes, not JSON\n");
        var notMetrics = CliRun.of("train", "--resume", save.toString(), "--data-path", data,
                "--max-epochs", "2", "--metrics", notes.toString());
        assertEquals(2, notMetrics.exit());
        assertTrue(notMetrics.err().contains(notes.toString()) && notMetrics.err().contains("not JSON"), notMetrics.err());
        assertEquals("training notes, not JSON\n", Files.readString(notes));
    }
}
