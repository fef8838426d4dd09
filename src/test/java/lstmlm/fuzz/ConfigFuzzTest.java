package lstmlm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.train.Config;
import lstmlm.train.ConfigException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * Config files from outside: any bytes given to {@link Config#load} are a config whose every derived
 * value works and which writes back to the same config, or a {@link ConfigException} naming the file.
 */
class ConfigFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void configFile(byte[] bytes) {
        Path file = FuzzFiles.write("fuzz.properties", bytes);
        Config c;
        try {
            c = Config.load(file.toString(), Map.of());
        } catch (ConfigException e) {
            FuzzFiles.assertNames(e.getMessage(), file, e);
            return;
        }
        try {
            c.shape();
        } catch (ConfigException e) { // the adaptive softmax's cutoffs against vocab_size: known only now
            if (e.getMessage().isEmpty() || e.getMessage().lines().count() != 1) throw new AssertionError("message: " + e.getMessage());
        }
        c.dropouts();
        c.vocabularyLimits();
        java.util.List<Double> valid = new java.util.ArrayList<>();
        for (int epoch = 0; epoch < c.maxMaxEpoch() && epoch < 50; epoch++) {
            double lr = c.learningRate(epoch, valid);
            valid.add(100.0 + (epoch % 3)); // plateaus every few epochs
            if (!(lr >= 0) || Double.isInfinite(lr)) throw new AssertionError("learning rate " + lr + " at epoch " + epoch + ": " + c);
        }
        // what a checkpoint stores (toMap) reads back as the same config
        StringBuilder text = new StringBuilder();
        c.toMap().forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Path again = FuzzFiles.write("fuzz.properties", text.toString().getBytes(StandardCharsets.UTF_8));
        Config back = Config.load(again.toString(), Map.of());
        if (!back.equals(c)) throw new AssertionError("round trip changed the config:\n" + c + "\n" + back);
    }
}
