package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The many-streams benchmark's rows say what ran and hold together; its speed is not a test's business. */
class BatchBenchmarkTest {
    @TempDir
    Path dir;

    @Test
    void batchAndSessionRowsAreConsistent() throws Exception {
        Path file = TestModels.write(dir, 200, 16, 2, 21, 0.4f);
        try (Model model = Model.load(file); StepThreads threads = new StepThreads(2)) {
            for (int n : new int[]{1, 20}) {
                BatchBenchmark.Row r = BatchBenchmark.batch(model, n, 0.05, 3, threads);
                assertEquals("batch", r.kind());
                assertEquals(n, r.streams());
                assertEquals(n, r.meanBatch());
                assertTrue(r.tokensPerS() > 0 && r.p50Us() > 0 && r.p99Us() >= r.p50Us(), r.toText());
            }
            try (DynamicBatcher batcher = new DynamicBatcher(model, 8, 100)) {
                BatchBenchmark.Row r = BatchBenchmark.sessions(batcher, 4, 0.05, 3);
                assertEquals("sessions", r.kind());
                assertEquals(4, r.streams());
                assertTrue(r.meanBatch() >= 1 && r.meanBatch() <= 8, r.toText());
                assertTrue(r.tokensPerS() > 0 && r.p99Us() >= r.p50Us(), r.toText());
            }
        }
    }
}
