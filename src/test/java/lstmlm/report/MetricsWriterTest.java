package lstmlm.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.train.Checkpoint;
import lstmlm.train.TrainingListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metrics file: what each event writes, append and purge on resume, and the errors for files that are not metrics. */
class MetricsWriterTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    private final PrintStream warn = new PrintStream(warnings, true, StandardCharsets.UTF_8);

    static List<JsonNode> parseLines(Path file) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) out.add(new ObjectMapper().readTree(line));
        return out;
    }

    private static void oneEpoch(MetricsWriter w, int epoch, double elapsed) {
        w.onStep(new TrainingListener.Step(epoch, 11, 40, 1.0, 30.5, 1234.5, elapsed - 1)); // the bar's event: not a line
        w.onProgress(new TrainingListener.Step(epoch, 11, 40, 1.0, 30.5, 1234.5, elapsed - 1));
        w.onEpoch(new TrainingListener.EpochEnd(epoch, 1.0, 20.25, 22.5, 1500, elapsed));
    }

    @Test
    void everyEventIsOneJsonLineWithItsKnownFields() throws Exception {
        Path file = dir.resolve("run.jsonl");
        try (MetricsWriter w = MetricsWriter.open(file, null, warn)) {
            oneEpoch(w, 1, 2.0);
            w.onTest(new TrainingListener.TestEnd(1, 21.75, 3.0));
        }
        List<JsonNode> lines = parseLines(file);
        assertEquals(3, lines.size());
        JsonNode progress = lines.get(0), epoch = lines.get(1), test = lines.get(2);
        assertEquals("progress", progress.get("event").asText());
        assertEquals(1, progress.get("epoch").asInt());
        assertEquals(11, progress.get("step").asInt());
        assertEquals(30.5, progress.get("train_ppl").asDouble());
        assertEquals(1234.5, progress.get("wps").asDouble());
        assertFalse(progress.has("valid_ppl"), "valid is unknown mid-epoch: " + progress);
        assertEquals("epoch", epoch.get("event").asText());
        assertEquals(22.5, epoch.get("valid_ppl").asDouble());
        assertEquals(1.0, epoch.get("lr").asDouble());
        assertEquals(2.0, epoch.get("elapsed_s").asDouble());
        assertEquals("test", test.get("event").asText());
        assertEquals(21.75, test.get("test_ppl").asDouble());
        assertEquals("", warnings.toString(StandardCharsets.UTF_8));
    }

    @Test
    void anUnknownNumberIsNullNotInvalidJson() throws Exception {
        Path file = dir.resolve("nan.jsonl");
        try (MetricsWriter w = MetricsWriter.open(file, null, warn)) {
            w.onEpoch(new TrainingListener.EpochEnd(1, 1.0, 20, 22, Double.NaN, 1));
        }
        JsonNode epoch = parseLines(file).getFirst();
        assertTrue(epoch.get("wps").isNull(), epoch.toString());
    }

    /** A checkpoint's position: 0-based epoch in progress, its windows done, the run's time (NaN: a file from before elapsed_s). */
    private static Checkpoint.Progress at(int epoch, int step, double elapsed) {
        return new Checkpoint.Progress(1, epoch, step, 40, 40L * epoch + step, 1.0, 0, 0, new float[0],
                List.of(), List.of(), elapsed);
    }

    @Test
    void aResumedRunAppendsAndItsClockGoesOn() throws Exception {
        Path file = dir.resolve("resumed.jsonl");
        try (MetricsWriter w = MetricsWriter.open(file, null, warn)) {
            oneEpoch(w, 1, 10.0);
        }
        // the checkpoint knows the run's time: the trainer's clock goes on from it (10 + 5), the file adds nothing
        try (MetricsWriter w = MetricsWriter.open(file, at(1, 0, 10.0), warn)) {
            oneEpoch(w, 2, 15.0);
        }
        List<JsonNode> lines = parseLines(file);
        assertEquals(4, lines.size(), "appended, not overwritten");
        assertEquals(15.0, lines.get(3).get("elapsed_s").asDouble(), 1e-9);

        // a checkpoint from before elapsed_s: the trainer counts this process only (7); the file's 15 is added
        try (MetricsWriter w = MetricsWriter.open(file, at(2, 0, Double.NaN), warn)) {
            oneEpoch(w, 3, 7.0);
        }
        lines = parseLines(file);
        assertEquals(6, lines.size());
        assertEquals(21.0, lines.get(4).get("elapsed_s").asDouble(), 1e-9, "progress line: 15 + 7 - 1");
        assertEquals(22.0, lines.get(5).get("elapsed_s").asDouble(), 1e-9);

        MetricsFile read = MetricsFile.read(file);
        assertEquals(List.of(1, 2, 3), read.epochs().stream().map(MetricsFile.EpochPoint::epoch).toList());
        assertEquals(22.0, read.elapsedSeconds(), 1e-9);

        // a new run starts the file afresh
        try (MetricsWriter w = MetricsWriter.open(file, null, warn)) {
            oneEpoch(w, 1, 1.0);
        }
        assertEquals(2, parseLines(file).size());
    }

    @Test
    void aResumeDropsTheLinesWrittenPastItsCheckpointSoTheFileReadsAsOneRun() throws Exception {
        Path file = dir.resolve("crashed.jsonl");
        String epoch1 = """
                {"event":"progress","epoch":1,"step":11,"epoch_size":40,"lr":1.0,"train_ppl":90.0,"wps":100,"elapsed_s":1}
                {"event":"epoch","epoch":1,"lr":1.0,"train_ppl":50.0,"valid_ppl":60.0,"wps":100,"elapsed_s":4}
                """;
        String upToStep20 = epoch1 + """
                {"event":"progress","epoch":2,"step":11,"epoch_size":40,"lr":1.0,"train_ppl":45.0,"wps":100,"elapsed_s":5}
                """;
        // the process wrote on to the end of epoch 2, then died; its last checkpoint is epoch 2's window 20
        Files.writeString(file, upToStep20 + """
                {"event":"progress","epoch":2,"step":21,"epoch_size":40,"lr":1.0,"train_ppl":44.0,"wps":100,"elapsed_s":6}
                {"event":"progress","epoch":2,"step":31,"epoch_size":40,"lr":1.0,"train_ppl":43.0,"wps":100,"elapsed_s":7}
                {"event":"epoch","epoch":2,"lr":1.0,"train_ppl":42.0,"valid_ppl":47.0,"wps":100,"elapsed_s":8}
                """);
        try (MetricsWriter w = MetricsWriter.open(file, at(1, 20, 5.5), warn)) {
            assertEquals(upToStep20, Files.readString(file), "kept: the lines up to window 20 of epoch 2, as they were");
            w.onProgress(new TrainingListener.Step(2, 21, 40, 1.0, 44.5, 100, 6.5));
            w.onEpoch(new TrainingListener.EpochEnd(2, 1.0, 42.5, 47.5, 100, 8.5));
        }
        List<JsonNode> lines = parseLines(file);
        assertEquals(List.of("progress", "epoch", "progress", "progress", "epoch"),
                lines.stream().map(l -> l.get("event").asText()).toList());
        assertEquals(List.of(1.0, 4.0, 5.0, 6.5, 8.5), lines.stream().map(l -> l.get("elapsed_s").asDouble()).toList(),
                "the clock never runs back");
        assertEquals(47.5, MetricsFile.read(file).epochs().get(1).validPerplexity());

        // at an epoch's end (the checkpoint's position after its epoch line) every line is kept
        Path whole = Files.writeString(dir.resolve("whole.jsonl"), epoch1);
        MetricsWriter.open(whole, at(1, 0, 4.0), warn).close();
        assertEquals(epoch1, Files.readString(whole));
        // an epoch line written just before a crash, its checkpoint not yet: dropped, the resume validates again
        MetricsWriter.open(whole, at(0, 40, 3.5), warn).close();
        assertEquals(epoch1.lines().findFirst().orElseThrow() + "\n", Files.readString(whole));
    }

    @Test
    void anEpochRepeatedAfterACrashCountsOnceWithTheLaterNumbers() throws Exception {
        Path file = dir.resolve("repeat.jsonl");
        Files.writeString(file, """
                {"event":"epoch","epoch":1,"lr":1.0,"train_ppl":50.0,"valid_ppl":60.0}
                {"event":"epoch","epoch":2,"lr":1.0,"train_ppl":40.0,"valid_ppl":45.0}
                {"event":"epoch","epoch":2,"lr":1.0,"train_ppl":39.0,"valid_ppl":44.0}

                {"event":"test","epoch":2,"test_ppl":43.5}
                """);
        MetricsFile read = MetricsFile.read(file);
        assertEquals(2, read.epochs().size());
        assertEquals(44.0, read.epochs().get(1).validPerplexity());
        assertEquals(43.5, read.testPerplexity().orElseThrow());
        assertEquals("repeat", read.label());
    }

    @Test
    void aFileThatIsNotMetricsIsAnErrorNamingTheFileAndLine() throws Exception {
        Path notJson = Files.writeString(dir.resolve("notes.jsonl"), "{\"event\":\"epoch\",\"epoch\":1,\"lr\":1,\"train_ppl\":2,\"valid_ppl\":3}\nEpoch: 1 Learning rate: 1.000\n");
        var e = assertThrows(ReportException.class, () -> MetricsFile.read(notJson));
        assertTrue(e.getMessage().contains(notJson.toString()) && e.getMessage().contains("line 2")
                && e.getMessage().contains("not JSON"), e.getMessage());

        Path array = Files.writeString(dir.resolve("array.jsonl"), "[1, 2]\n");
        e = assertThrows(ReportException.class, () -> MetricsFile.read(array));
        assertTrue(e.getMessage().contains("not a JSON object"), e.getMessage());

        Path noEvent = Files.writeString(dir.resolve("other.jsonl"), "{\"loss\": 3}\n");
        e = assertThrows(ReportException.class, () -> MetricsFile.read(noEvent));
        assertTrue(e.getMessage().contains("\"event\""), e.getMessage());

        Path missingField = Files.writeString(dir.resolve("short.jsonl"), "{\"event\":\"epoch\",\"epoch\":1,\"lr\":1}\n");
        e = assertThrows(ReportException.class, () -> MetricsFile.read(missingField));
        assertTrue(e.getMessage().contains("train_ppl"), e.getMessage());

        // appending to it on --resume is refused the same way, before anything is written
        e = assertThrows(ReportException.class, () -> MetricsWriter.open(notJson, at(1, 0, 1.0), warn));
        assertTrue(e.getMessage().contains(notJson.toString()), e.getMessage());
    }

    @Test
    void aMissingFolderIsAnErrorBeforeAnythingIsWritten() {
        Path file = dir.resolve("no-such-dir").resolve("run.jsonl");
        var e = assertThrows(ReportException.class, () -> MetricsWriter.open(file, null, warn));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("does not exist"), e.getMessage());
        assertFalse(Files.exists(file.getParent()));
    }
}
