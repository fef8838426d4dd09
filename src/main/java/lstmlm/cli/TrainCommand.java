package lstmlm.cli;

import lstmlm.data.Corpus;
import lstmlm.data.CorpusFiles;
import lstmlm.data.PtbDownloader;
import lstmlm.errors.UserException;
import lstmlm.model.Engine;
import lstmlm.model.ProductPolicy;
import lstmlm.natives.Communicator;
import lstmlm.natives.Mpi;
import lstmlm.report.EpochProgressBar;
import lstmlm.train.Checkpoint;
import lstmlm.train.CheckpointStore;
import lstmlm.train.Config;
import lstmlm.train.Trainer;
import lstmlm.train.TrainingStoppedException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train an LSTM language model on Penn TreeBank, printing TensorFlow's lines.")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "NAME|FILE",
            description = "small, medium, large, test, or a .properties file with the same keys. Required unless --resume.")
    String config;

    @Option(names = "--data-path", paramLabel = "DIR",
            description = "Folder with a corpus: ptb.{train,valid,test}.txt, {train,valid,test}.txt (PyTorch's layout) or "
                    + "wiki.{train,valid,test}.tokens (WikiText). Default: data/ptb, Penn TreeBank downloaded and verified when missing.")
    Path dataPath;

    @Option(names = "--train", paramLabel = "FILE", description = "The training text (with --valid and --test, instead of --data-path).")
    Path trainFile;

    @Option(names = "--valid", paramLabel = "FILE", description = "The validation text.")
    Path validFile;

    @Option(names = "--test", paramLabel = "FILE", description = "The test text.")
    Path testFile;

    @Option(names = "--save-path", paramLabel = "DIR",
            description = "Write checkpoints (ckpt-STEP.safetensors, the last --keep of them), best.safetensors and the final model.safetensors to DIR.")
    Path savePath;

    @Option(names = "--resume", paramLabel = "DIR",
            description = "Continue exactly from the newest valid checkpoint in DIR, with its config and seed. Checkpoints go on to DIR unless --save-path says otherwise."
                    + " --set max_max_epoch=N extends (or ends earlier) the run it continues.")
    Path resume;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "0",
            description = "Also write a checkpoint every N training steps (default: epoch ends only).")
    int checkpointEvery;

    @Option(names = "--keep", paramLabel = "K", defaultValue = "3",
            description = "Keep the last K checkpoints (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--seed", description = "Seed for initialisation and dropout (default: 1).")
    Long seed;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for OpenBLAS and the kernels (default: all cores,"
            + " shared among the ranks mpirun started on this machine).")
    Integer threads;

    @Option(names = "--distributed", description = "Data-parallel training over the ranks mpirun started (mpirun -np N"
            + " ./lstm train ... --distributed): rank r trains rows [r*B/N, (r+1)*B/N) of each window, gradients are summed"
            + " over the ranks before clipping, so the run is the single process's; rank 0 prints and saves.")
    boolean distributed;

    @Option(names = "--max-epochs", paramLabel = "N",
            description = "Stop when N epochs are done in all, counting those before --resume (default and at most: the config's max_max_epoch).")
    Integer maxEpochs;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key, e.g. --set keep_prob=0.9.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--precision", paramLabel = "fp32|bf16",
            description = "What the GEMMs compute in (the config key precision): fp32, or bf16 inputs with fp32 "
                    + "accumulation and fp32 master weights (oneDNN; about twice as fast on CPUs with AVX-512 BF16 or AMX). "
                    + "Default: the config's, fp32 unless it says otherwise.")
    String precision;

    @Option(names = "--metrics", paramLabel = "FILE.jsonl",
            description = "Write a JSON line for every progress line, epoch end and the test (event, epoch, step, lr, "
                    + "train_ppl, valid_ppl, test_ppl, wps, elapsed_s). A new run starts the file afresh; --resume keeps its lines up to the checkpoint and appends. Default: none.")
    Path metrics;

    @Option(names = "--plot", paramLabel = "FILE.png|FILE.svg",
            description = "Redraw the training curve (train and valid perplexity on a log axis, learning rate on a second axis) "
                    + "after every epoch. Default: none.")
    Path plot;

    @Option(names = "--no-progress",
            description = "Never draw the progress bar. Default: a bar per epoch when standard output is a terminal, none otherwise.")
    boolean noProgress;

    @Override
    public Integer call() {
        if (!distributed) return call(Communicator.SINGLE);
        Mpi mpi = Mpi.init();
        try {
            return call(mpi);
        } catch (RuntimeException e) {
            if (mpi.size() > 1) {
                // the other ranks wait in a collective this rank will never reach: end them all
                System.err.println("error on rank " + mpi.rank() + ": " + e.getMessage());
                System.err.flush();
                mpi.abort(2);
            }
            throw e;
        } finally {
            mpi.close();
        }
    }

    private Integer call(Communicator comm) {
        if (precision != null) overrides.put("precision", precision);
        boolean lead = comm.rank() == 0; // only rank 0 prints, writes metrics and plots
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        Checkpoint resumed = null;
        try {
            Config cfg;
            long runSeed;
            if (resume != null) {
                resumed = CheckpointStore.newest(resume, lead ? System.out : quiet);
                cfg = extended(resumed);
                checkAgrees(resumed);
                runSeed = resumed.progress().seed();
            } else {
                if (config == null) throw new UserException("Pass --config NAME|FILE for a new run, or --resume DIR to continue one.");
                cfg = Config.load(config, overrides);
                runSeed = seed != null ? seed : 1;
            }
            int n = Options.threads(threads, Math.max(1, Runtime.getRuntime().availableProcessors() / ranksOnThisMachine(comm)));
            if (maxEpochs != null) Options.atLeast("--max-epochs", maxEpochs, 1);
            Options.atLeast("--keep", keep, 1);
            Options.atLeast("--checkpoint-every", checkpointEvery, 0);
            // options and output paths are checked before the data loads: a typo should not wait for a download or an epoch
            if (lead) RunWatchers.checkOutputs(metrics, plot, resume != null);
            CorpusFiles files = corpusFiles(dataPath, trainFile, validFile, testFile);
            Corpus corpus = Corpus.load(files, cfg.vocabularyLimits());
            Config configured = cfg;
            cfg = cfg.withVocabSize(corpus.vocabulary().size()); // the model has a class per word the data gave
            if (maxEpochs != null && maxEpochs > cfg.maxMaxEpoch()) {
                throw new UserException("--max-epochs " + maxEpochs + " is past the config's max_max_epoch " + cfg.maxMaxEpoch()
                        + ": --max-epochs only stops a run early. To train longer, --set max_max_epoch=" + maxEpochs
                        + (resume != null ? " (on --resume it extends the run)." : "."));
            }
            int epochs = maxEpochs != null ? maxEpochs : cfg.maxMaxEpoch();
            Path saveDir = savePath != null ? savePath : resume;
            CheckpointStore store = saveDir != null ? CheckpointStore.open(saveDir, keep) : null;
            // on a terminal the bar redraws its line: TF's lines then go above it; anywhere else they are printed as ever
            boolean showBar = lead && !noProgress && EpochProgressBar.stdoutIsTerminal();
            PrintStream lines = !lead ? quiet : showBar ? EpochProgressBar.linesAboveBar(System.out) : System.out;
            try (Trainer trainer = new Trainer(cfg, corpus, runSeed, n, comm)) {
                List<String> banner = RunBanner.lines(trainer.engine());
                lines.println(banner.get(0));
                lines.println(banner.get(1));
                if (trainer.engine().precision() != cfg.precision()) lines.println(ProductPolicy.fallbackWarning());
                if (comm.size() > 1) {
                    lines.printf(Locale.ROOT, "Data-parallel: %d ranks, each %d of the %d rows of a window, %d threads each (%s)%n",
                            comm.size(), cfg.batchSize() / comm.size(), cfg.batchSize(), n, comm.describe());
                }
                lines.printf(Locale.ROOT, "Config %s: %s%n", cfg.name(), cfg.toMap());
                if (configured.vocabSize() != cfg.vocabSize()) {
                    lines.printf(Locale.ROOT, "vocab_size: %d, the vocabulary the data gave (the config said %d)%n",
                            cfg.vocabSize(), configured.vocabSize());
                }
                banner.subList(2, banner.size()).forEach(lines::println);
                lines.printf("Data: %s (%s)%n", files.train().getParent(), corpus);
                if (resumed != null) {
                    trainer.restore(resumed);
                    double before = resumed.progress().elapsedSeconds(); // NaN: a checkpoint from before elapsed_s
                    lines.printf(Locale.ROOT, "Resumed from %s: epoch %d, step %d, global step %d%s%n", resumed.file(),
                            trainer.epoch() + 1, trainer.stepInEpoch(), trainer.globalStep(),
                            Double.isNaN(before) ? "" : String.format(Locale.ROOT, ", after %.1f s of training", before));
                    resumed.close();
                    resumed = null;
                }
                if (store != null) trainer.checkpointTo(store, checkpointEvery);
                long start = System.nanoTime();
                try (StopOnSignal signals = StopOnSignal.install(trainer, lead ? System.err : quiet, comm.size() > 1);
                     RunWatchers watchers = lead ? RunWatchers.wire(trainer, cfg, lines, resume != null, metrics, plot, showBar)
                             : RunWatchers.none()) {
                    try {
                        trainer.run(epochs);
                    } catch (TrainingStoppedException stopped) {
                        lines.flush();
                        if (lead) reportStop(stopped, signals, saveDir);
                        return signals.exitCode();
                    }
                }
                lines.printf(Locale.ROOT, "Wall time: %.1f s%n", (System.nanoTime() - start) / 1e9);
                if (saveDir != null) {
                    Path file = trainer.save(saveDir);
                    lines.println("Saved weights to " + file);
                }
            }
            return 0;
        } finally {
            if (resumed != null) resumed.close();
        }
    }

    /** Ranks of this job on this machine (Open MPI and MPICH/Hydra say so in the environment), to share its cores. */
    private static int ranksOnThisMachine(Communicator comm) {
        if (comm.size() == 1) return 1;
        for (String v : List.of("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")) {
            String s = System.getenv(v);
            if (s != null) {
                try {
                    return Math.max(1, Integer.parseInt(s.trim()));
                } catch (NumberFormatException ignored) {
                    // not a number: try the next
                }
            }
        }
        return comm.size();
    }

    /** Where the run stopped, what holds its position and the command that continues it. */
    private static void reportStop(TrainingStoppedException stopped, StopOnSignal signals, Path saveDir) {
        System.err.printf(Locale.ROOT, "Stopped by SIG%s (it came during %s) in epoch %d after window %d of %d, global step %d.%n",
                signals.received(), StopOnSignal.label(signals.phaseAtSignal()), stopped.epoch(), stopped.step(),
                stopped.epochSize(), stopped.globalStep());
        if (stopped.checkpoint() != null) {
            System.err.println("Checkpoint " + stopped.checkpoint() + " holds this position exactly. Continue with:");
            System.err.println("  lstm train --resume " + saveDir + "   (with the same --max-epochs, --metrics and --plot, if any)");
        } else {
            System.err.println("Nothing was saved: this run has no --save-path. Pass --save-path DIR to make a run resumable.");
        }
    }

    /**
     * The corpus the flags name: the three files, or a folder's layout, or (neither given) Penn TreeBank
     * in data/ptb, downloaded and verified when missing.
     */
    static CorpusFiles corpusFiles(Path dataPath, Path train, Path valid, Path test) {
        int named = (train != null ? 1 : 0) + (valid != null ? 1 : 0) + (test != null ? 1 : 0);
        if (named > 0) {
            if (named < 3) throw new UserException("--train, --valid and --test go together: give all three files.");
            if (dataPath != null) throw new UserException("Give either --data-path DIR or --train/--valid/--test, not both.");
            return CorpusFiles.of(train, valid, test);
        }
        return CorpusFiles.in(dataPath != null ? dataPath : PtbDownloader.withDefaults(System.out).ensure());
    }

    /**
     * The checkpoint's config, with max_max_epoch from {@code --set max_max_epoch=N} when given: the one
     * key a resume may change ({@link Config#STOP_KEY}). It may not fall below the epoch the checkpoint
     * reached.
     */
    private Config extended(Checkpoint c) {
        String asked = overrides.get(Config.STOP_KEY);
        if (asked == null) return c.config();
        Config cfg = c.config().withOverrides(Map.of(Config.STOP_KEY, asked));
        // the epochs done, and the one in progress when the checkpoint is inside one
        int reached = c.progress().epoch() + (c.progress().step() > 0 ? 1 : 0);
        if (cfg.maxMaxEpoch() < reached) {
            throw new UserException("--set max_max_epoch=" + cfg.maxMaxEpoch() + " is below epoch " + reached + ", which "
                    + c.file() + " has reached: on --resume, max_max_epoch may grow, or shrink to no fewer than " + reached + ".");
        }
        return cfg;
    }

    /**
     * A resumed run keeps the checkpoint's maths: flags that would change it must agree with it.
     * max_max_epoch is not maths ({@link Config#STOP_KEY}): it is taken from --set, never from --config.
     */
    private void checkAgrees(Checkpoint c) {
        Config asked = null;
        if (config != null) asked = Config.load(config, overrides);
        else if (!overrides.isEmpty()) asked = c.config().withOverrides(overrides);
        List<String> conflicts = new ArrayList<>();
        if (asked != null) {
            Map<String, String> have = c.config().trainingMap(), want = asked.trainingMap();
            for (String k : have.keySet()) {
                if (k.equals("vocab_size")) continue; // the data's, not the flags' (checked with the vocabulary)
                if (!have.get(k).equals(want.get(k))) conflicts.add(k + "=" + want.get(k) + " (checkpoint: " + have.get(k) + ")");
            }
        }
        if (seed != null && seed != c.progress().seed()) {
            conflicts.add("--seed " + seed + " (checkpoint: " + c.progress().seed() + ")");
        }
        if (!conflicts.isEmpty()) {
            throw new UserException("--resume continues " + c.file() + " with its own config and seed, but the flags ask for "
                    + String.join(", ", conflicts) + ". Drop those flags to resume, or start a new run with another --save-path.");
        }
    }
}
