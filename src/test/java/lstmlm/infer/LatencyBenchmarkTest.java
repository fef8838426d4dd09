package lstmlm.infer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyBenchmarkTest {
    @TempDir
    Path dir;

    @Test
    void shortRunReportsEveryKeyConsistently() throws Exception {
        Path file = TestModels.write(dir, 500, 24, 2, 16, 0.3f);
        try (Model model = Model.load(file); LatencyBenchmark b = new LatencyBenchmark(model, 1)) {
            LatencyBenchmark.Result r = b.run(200, 300);
            JsonNode json = new ObjectMapper().readTree(r.toJson());
            for (String key : new String[]{"model_mb", "bandwidth_gbs", "p50_us", "p99_us", "bound_us",
                    "ratio_to_bound", "batch_tokens_per_s", "score_p50_us", "score_p99_us"}) {
                assertTrue(json.has(key), key);
                assertTrue(json.get(key).asDouble() > 0, key + " = " + json.get(key));
            }
            assertEquals(model.fileBytes() / 1e6, json.get("model_mb").asDouble(), 1e-9);
            assertTrue(r.p99Us() >= r.p50Us());
            assertTrue(r.scoreP99Us() >= r.scoreP50Us());
            assertEquals(r.p50Us() / r.boundUs(), r.ratioToBound(), 1e-9);
            assertEquals(model.bytesReadPerToken() / (r.bandwidthGbs() * 1e9) * 1e6, r.boundUs(), 1e-6 * r.boundUs());
            assertEquals(300, r.tokens());
        }
    }
}
