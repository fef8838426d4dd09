package lstmlm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** lstm report: the table on standard output; a file that is not a run's metrics is an error naming it. */
class ReportCommandTest {
    @TempDir
    Path tmp;

    @Test
    void printsTheTableOfAMetricsFile() throws Exception {
        Path m = PlotCommandTest.metrics(tmp, "small.jsonl", 1);
        var run = CliRun.of("report", m.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().startsWith("| epoch | lr | train | valid | training speed |\n|---|---|---|---|---|\n"
                + "| 1 | 1.000 | 600.000 | 500.000 | 1,000 wps |\n"), run.out());
        assertTrue(run.out().contains("| 4 | 0.250 | 150.000 | 250.000 | 1,000 wps |\n"), run.out());
        assertTrue(run.out().contains("Test perplexity 240.000 (valid 250.000, train 150.000 at epoch 4).\n"), run.out());
    }

    @Test
    void errorsNameTheFile() throws Exception {
        Path gone = tmp.resolve("gone.jsonl");
        var missing = CliRun.of("report", gone.toString());
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains(gone.toString()) && missing.err().contains("does not exist"), missing.err());
        Path log = Files.writeString(tmp.resolve("train.log"), "Epoch: 1 Learning rate: 1.000\n");
        var notJson = CliRun.of("report", log.toString());
        assertEquals(2, notJson.exit());
        assertTrue(notJson.err().contains(log.toString()) && notJson.err().contains("not JSON"), notJson.err());
    }
}
