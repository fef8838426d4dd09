package lstmlm.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** A synthetic PTB-like corpus and a tiny config, so whole training runs take a second or two. */
public final class TinyRun {
    private TinyRun() {}

    /** ptb.{train,valid,test}.txt from a small grammar: 30 words, ~8k training tokens (~400 windows). */
    public static Path corpus(Path root) throws IOException {
        Path d = Files.createDirectories(root.resolve("tiny-ptb"));
        SplittableRandom r = new SplittableRandom(11);
        for (String split : List.of("train", "valid", "test")) {
            StringBuilder sb = new StringBuilder();
            int sentences = split.equals("train") ? 900 : 60;
            for (int s = 0; s < sentences; s++) {
                int w = r.nextInt(30);
                int len = 4 + r.nextInt(8);
                for (int k = 0; k < len; k++) {
                    sb.append(" w").append(w);
                    w = (w * 7 + (r.nextInt(10) < 8 ? 1 : 3)) % 30;
                }
                sb.append(" \n");
            }
            Files.writeString(d.resolve("ptb." + split + ".txt"), sb.toString());
        }
        return d;
    }

    /** Two layers and dropout, so every part of the position (both layers' state, the mask RNG) matters. */
    public static Map<String, String> configValues() {
        Map<String, String> m = new HashMap<>(Map.of("init_scale", "0.1", "learning_rate", "1.0",
                "max_grad_norm", "5", "num_layers", "2", "num_steps", "5", "hidden_size", "8",
                "max_epoch", "1", "max_max_epoch", "3", "keep_prob", "0.7", "lr_decay", "0.5"));
        m.put("batch_size", "4");
        m.put("vocab_size", "40");
        return m;
    }

    public static Config config() {
        return Config.fromMap("tiny", configValues(), "the tiny test config");
    }

    /** A trainer whose TensorFlow lines go to {@code out}, as {@code lstm train} wires it. */
    public static Trainer trainer(Config config, lstmlm.data.Corpus corpus, long seed, int threads,
                                  java.io.PrintStream out) {
        // the config's own precision, not ProductPolicy.gemmPrecision's: the bf16 tests exercise oneDNN's bf16 GEMM on any CPU
        Trainer t = new Trainer(config, corpus, seed, threads, lstmlm.natives.Communicator.SINGLE, config.precision());
        t.listen(new TensorFlowLines(out));
        return t;
    }

    /** The weights a checkpoint holds, in slab order. */
    public static float[] weights(Checkpoint c) {
        try (lstmlm.model.LanguageModel m = new lstmlm.model.LanguageModel(c.weights().shape())) {
            c.copyWeightsInto(m);
            return m.params.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        }
    }

    /** The config as a .properties file, for the command line. */
    public static Path configFile(Path dir) throws IOException {
        StringBuilder sb = new StringBuilder();
        configValues().forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return Files.writeString(dir.resolve("tiny.properties"), sb.toString());
    }
}
