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
            for (String key : new String[]{"model_mb", "bandwidth_gbs", "memory_bandwidth_gbs", "mflops_per_token", "fma_gflops",
                    "p50_us", "p99_us", "bandwidth_bound_us", "compute_bound_us", "bound_us", "ratio_to_bound",
                    "batch_tokens_per_s", "score_p50_us", "score_p99_us"}) {
                assertTrue(json.has(key), key);
                assertTrue(json.get(key).asDouble() > 0, key + " = " + json.get(key));
            }
            assertEquals(model.fileBytes() / 1e6, json.get("model_mb").asDouble(), 1e-9);
            assertTrue(r.p99Us() >= r.p50Us());
            assertTrue(r.scoreP99Us() >= r.scoreP50Us());
            LatencyBenchmark.Bound bound = r.bound();
            assertEquals(r.p50Us() / bound.us(), r.ratioToBound(), 1e-9);
            assertEquals(model.bytesReadPerToken() / (bound.bandwidthGbs() * 1e9) * 1e6, bound.bandwidthUs(), 1e-6 * bound.bandwidthUs());
            // 2 layers of [x, h] (2·24) × 4·24, then 24 × 500 logits, two FLOPs per multiply-add
            assertEquals((2.0 * 2 * 48 * 96 + 2.0 * 24 * 500) / 1e6, bound.mflopsPerToken(), 1e-12);
            assertEquals(bound.mflopsPerToken() / (bound.fmaGflops() * 1e3) * 1e6, bound.computeUs(), 1e-6 * bound.computeUs());
            assertEquals(Math.max(bound.bandwidthUs(), bound.computeUs()), bound.us(), 0);
            assertEquals(bound.computeUs() >= bound.bandwidthUs() ? "compute" : bound.weightsFitLlc() ? "cache bandwidth" : "memory bandwidth",
                    json.get("bound_kind").asText());
            assertEquals(300, r.tokens());
        }
    }

    /** An adaptive step's arithmetic: the head (8 words + 2 cluster logits), then each cluster's projection and words. */
    @Test
    void anAdaptiveStepCountsItsHeadAndEveryCluster() {
        Path file = TestModels.writeAdaptive(dir, 50, 16, 1, "8,20", 2, 3, 0.3f);
        try (Model model = Model.load(file)) {
            long lstm = 2L * (2 * 16) * (4 * 16);
            long head = 2L * 16 * 10, first = 2L * 16 * 8 + 2L * 8 * 12, second = 2L * 16 * 4 + 2L * 4 * 30;
            assertEquals(lstm + head + first + second, model.flopsPerToken());
        }
    }

    @Test
    void sysfsCacheSizesAreRead() {
        assertEquals(8L << 20, lstmlm.model.Yardsticks.cacheSize("8192K"));
        assertEquals(32L << 20, lstmlm.model.Yardsticks.cacheSize("32M"));
        assertEquals(512, lstmlm.model.Yardsticks.cacheSize("512"));
        assertTrue(lstmlm.model.Yardsticks.lastLevelCacheBytes() >= 0);
    }
}
