package lstmlm.cli;

import lstmlm.data.PtbCorpus;
import lstmlm.data.PtbDownloader;
import lstmlm.train.Config;
import lstmlm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train an LSTM language model on Penn TreeBank, printing TensorFlow's lines.")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "NAME|FILE",
            description = "small, medium, large, test, or a .properties file with the same keys.")
    String config;

    @Option(names = "--data-path", paramLabel = "DIR",
            description = "Folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt. Default: data/ptb, downloaded and verified when missing.")
    Path dataPath;

    @Option(names = "--save-path", paramLabel = "DIR", description = "Write the trained weights to DIR/model.safetensors.")
    Path savePath;

    @Option(names = "--seed", defaultValue = "1", description = "Seed for initialisation and dropout (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for OpenBLAS and the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--max-epochs", paramLabel = "N", description = "Stop after N epochs (default: the config's max_max_epoch).")
    Integer maxEpochs;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key, e.g. --set keep_prob=0.9.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() {
        Config cfg = Config.load(config, overrides);
        Path dir = dataPath != null ? dataPath : PtbDownloader.withDefaults(System.out).ensure();
        PtbCorpus corpus = PtbCorpus.load(dir);
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        int epochs = maxEpochs != null ? Math.min(maxEpochs, cfg.maxMaxEpoch()) : cfg.maxMaxEpoch();
        if (epochs < 1) throw new Main.UserError("--max-epochs must be at least 1, got " + maxEpochs);
        try (Trainer trainer = new Trainer(cfg, corpus, seed, n, System.out)) {
            trainer.printBanner();
            System.out.printf("Data: %s (%s)%n", dir, corpus);
            long start = System.nanoTime();
            trainer.run(epochs);
            System.out.printf("Wall time: %.1f s%n", (System.nanoTime() - start) / 1e9);
            if (savePath != null) {
                Path file = trainer.save(savePath);
                System.out.println("Saved weights to " + file);
            }
        }
        return 0;
    }
}
