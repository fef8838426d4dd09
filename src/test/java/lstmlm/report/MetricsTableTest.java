package lstmlm.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's per-epoch table from a metrics file: rows, a resumed epoch, the best epoch, a run not finished. */
class MetricsTableTest {
    @TempDir
    Path dir;

    private Path file(String... lines) throws Exception {
        return Files.writeString(dir.resolve("run.jsonl"), String.join("\n", lines) + "\n");
    }

    @Test
    void rowsPerEpochThenBestValidTestAndTime() throws Exception {
        Path f = file(
                "{\"event\":\"progress\",\"epoch\":1,\"step\":11,\"epoch_size\":100,\"lr\":1.0,\"train_ppl\":900.5,\"wps\":1000,\"elapsed_s\":5}",
                "{\"event\":\"epoch\",\"epoch\":1,\"lr\":1.0,\"train_ppl\":427.91742,\"valid_ppl\":226.2806289,\"wps\":2173.28,\"elapsed_s\":434.7}",
                // a run stopped inside epoch 2 and resumed: epoch 2 written twice, the later line is the epoch
                "{\"event\":\"epoch\",\"epoch\":2,\"lr\":1.0,\"train_ppl\":999.0,\"valid_ppl\":999.0,\"wps\":1.0,\"elapsed_s\":600}",
                "{\"event\":\"epoch\",\"epoch\":2,\"lr\":1.0,\"train_ppl\":242.8676648,\"valid_ppl\":168.8721993,\"wps\":3683.765,\"elapsed_s\":694.1}",
                "{\"event\":\"epoch\",\"epoch\":3,\"lr\":0.25,\"train_ppl\":203.1639,\"valid_ppl\":170.5,\"wps\":13575.5,\"elapsed_s\":9292.3}",
                "{\"event\":\"test\",\"epoch\":3,\"test_ppl\":160.04449,\"elapsed_s\":10293.6}");
        String table = MetricsTable.markdown(MetricsFile.read(f));
        assertEquals("""
                | epoch | lr | train | valid | training speed |
                |---|---|---|---|---|
                | 1 | 1.000 | 427.917 | 226.281 | 2,173 wps |
                | 2 | 1.000 | 242.868 | 168.872 | 3,684 wps |
                | 3 | 0.250 | 203.164 | 170.500 | 13,576 wps |

                Best valid 168.872 at epoch 2 of 3.
                Test perplexity 160.044 (valid 170.500, train 203.164 at epoch 3).
                10,294 s of training time (2.9 hours) in all, validation and test included.
                """, table);
    }

    @Test
    void aRunStillGoingAndAnOlderFileWithoutSpeed() throws Exception {
        Path f = file("{\"event\":\"epoch\",\"epoch\":1,\"lr\":1.0,\"train_ppl\":270.612,\"valid_ppl\":179.869,\"elapsed_s\":90}");
        String table = MetricsTable.markdown(MetricsFile.read(f));
        assertTrue(table.contains("| 1 | 1.000 | 270.612 | 179.869 | – |\n"), table);
        assertTrue(table.contains("No test perplexity yet: the run has not finished.\n"), table);
        assertTrue(table.endsWith("90 s of training time (0.0 hours) in all, validation included.\n"), table);
    }

    @Test
    void aRunExtendedPastItsTestIsNotTestedUntilItEndsAgain() throws Exception {
        String e1 = "{\"event\":\"epoch\",\"epoch\":1,\"lr\":1.0,\"train_ppl\":300,\"valid_ppl\":200,\"wps\":100,\"elapsed_s\":10}";
        String t1 = "{\"event\":\"test\",\"epoch\":1,\"test_ppl\":190,\"elapsed_s\":12}";
        String e2 = "{\"event\":\"epoch\",\"epoch\":2,\"lr\":0.25,\"train_ppl\":250,\"valid_ppl\":180,\"wps\":100,\"elapsed_s\":22}";
        String t2 = "{\"event\":\"test\",\"epoch\":2,\"test_ppl\":170,\"elapsed_s\":24}";
        assertEquals(190, MetricsFile.read(file(e1, t1)).testPerplexity().orElseThrow());
        assertTrue(MetricsFile.read(file(e1, t1, e2)).testPerplexity().isEmpty(), "extended: epoch 1's test is not the run's");
        assertTrue(MetricsTable.markdown(MetricsFile.read(file(e1, t1, e2))).contains("No test perplexity yet"));
        assertEquals(170, MetricsFile.read(file(e1, t1, e2, t2)).testPerplexity().orElseThrow());
    }

    @Test
    void noEpochYetIsAnErrorNamingTheFile() throws Exception {
        Path f = file("{\"event\":\"progress\",\"epoch\":1,\"step\":11,\"epoch_size\":100,\"lr\":1.0,\"train_ppl\":900.5,\"wps\":1000,\"elapsed_s\":5}");
        var e = assertThrows(ReportException.class, () -> MetricsTable.markdown(MetricsFile.read(f)));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("no epoch yet"), e.getMessage());
    }
}
