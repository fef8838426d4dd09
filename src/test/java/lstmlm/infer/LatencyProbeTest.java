package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/**
 * Not a check: prints latency for the small (H=200) and medium (H=650) shapes with both softmax
 * layouts. Run with {@code -Dlstm.latency=true}.
 */
@EnabledIfSystemProperty(named = "lstm.latency", matches = "true")
class LatencyProbeTest {
    @TempDir
    Path dir;

    @Test
    void printLatency() {
        for (int hidden : new int[]{200, 650}) {
            Path file = TestModels.write(dir, 10_000, hidden, 2, 7, 0.05f);
            for (Model.SoftmaxLayout layout : new Model.SoftmaxLayout[]{Model.SoftmaxLayout.MAPPED}) {
                try (Model m = Model.load(file, layout); LatencyBenchmark b = new LatencyBenchmark(m, 1)) {
                    int tokens = hidden > 300 ? 2000 : 3000;
                    LatencyBenchmark.Result r = b.run(tokens, tokens);
                    System.out.println("H=" + hidden + " " + layout + ": " + r.toJson());
                }
            }
        }
    }
}
