package lstmlm.train;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelFileException;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A folder of checkpoints: {@code ckpt-<global step>.safetensors} (the last K kept),
 * {@code best.safetensors} (lowest valid perplexity) and the final {@code model.safetensors}.
 * Every file is written atomically, so a crash or a failed write leaves the previous one intact.
 */
public final class CheckpointStore {
    public static final String BEST = "best.safetensors";
    public static final String FINAL = "model.safetensors";
    private static final Pattern CHECKPOINT = Pattern.compile("ckpt-(\\d+)\\.safetensors");

    private final Path dir;
    private final int keep;

    private CheckpointStore(Path dir, int keep) {
        this.dir = dir;
        this.keep = keep;
    }

    /**
     * Opens (creating) a folder for writing. Fails now, not hours into training, when it cannot
     * be written; removes temp files a killed run left behind.
     */
    public static CheckpointStore open(Path dir, int keep) {
        if (keep < 1) throw new ConfigException("--keep must be at least 1, got " + keep);
        try {
            Files.createDirectories(dir);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    String n = p.getFileName().toString();
                    if (n.contains(".safetensors") && n.endsWith(".tmp")) Files.deleteIfExists(p);
                }
            }
            Path probe = Files.createTempFile(dir, ".write-test", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write checkpoints to " + dir + " (" + e
                    + "). Pass a writable folder with --save-path.", e);
        }
        return new CheckpointStore(dir, keep);
    }

    public Path dir() {
        return dir;
    }

    public static Path checkpointFile(Path dir, long globalStep) {
        return dir.resolve(String.format("ckpt-%010d.safetensors", globalStep));
    }

    /** Writes a checkpoint named by its global step, then deletes all but the newest K. */
    public Path save(Config config, Vocabulary vocabulary, LanguageModel model, Checkpoint.Progress progress) {
        Path file = checkpointFile(dir, progress.globalStep());
        write(file, config, vocabulary, model, progress, Map.of());
        List<Path> all = checkpoints(dir);
        for (int i = 0; i < all.size() - keep; i++) {
            try {
                Files.deleteIfExists(all.get(i));
            } catch (IOException e) {
                // not fatal: an old checkpoint stays behind
            }
        }
        return file;
    }

    /** Writes {@code best.safetensors}. */
    public Path saveBest(Config config, Vocabulary vocabulary, LanguageModel model, Checkpoint.Progress progress,
                         double validPerplexity) {
        Path file = dir.resolve(BEST);
        write(file, config, vocabulary, model, progress, Map.of("valid_perplexity", Double.toString(validPerplexity)));
        return file;
    }

    /** Writes the final {@code model.safetensors}. */
    public Path saveFinal(Config config, Vocabulary vocabulary, LanguageModel model, Checkpoint.Progress progress,
                          double testPerplexity) {
        Path file = dir.resolve(FINAL);
        write(file, config, vocabulary, model, progress, Map.of("test_perplexity", Double.toString(testPerplexity)));
        return file;
    }

    private void write(Path file, Config config, Vocabulary vocabulary, LanguageModel model,
                       Checkpoint.Progress progress, Map<String, String> extra) {
        try {
            Checkpoint.write(file, config, vocabulary, model, progress, extra);
        } catch (IOException e) {
            List<Path> existing = checkpoints(dir).stream().filter(p -> !p.equals(file)).toList();
            String previous = existing.isEmpty() ? "No earlier checkpoint was lost"
                    : "The previous checkpoint " + existing.getLast() + " is intact";
            throw new UncheckedIOException("Could not write checkpoint " + file + " (" + e + "). " + previous
                    + ". Free disk space (or raise the file-size limit, ulimit -f) or make " + dir + " writable, then"
                    + " continue with --resume " + dir + ".", e);
        }
    }

    /** The folder's {@code ckpt-*.safetensors}, oldest (lowest global step) first. */
    public static List<Path> checkpoints(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> CHECKPOINT.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p))
                    .sorted(Comparator.comparingLong(CheckpointStore::globalStep))
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static long globalStep(Path p) {
        Matcher m = CHECKPOINT.matcher(p.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException(p.toString());
        return Long.parseLong(m.group(1));
    }

    /**
     * The newest checkpoint in {@code dir} that loads and checks out. Newer ones that do not are
     * reported on {@code log} and renamed to {@code NAME.bad}, so that keeping the last K never
     * keeps them over good ones written after the resume.
     */
    public static Checkpoint newest(Path dir, PrintStream log) {
        List<Path> all = new ArrayList<>(checkpoints(dir));
        if (all.isEmpty()) {
            throw new ModelFileException("No checkpoint to resume from in " + dir + ": it has no ckpt-*.safetensors. "
                    + "Pass the --save-path folder of an earlier run.");
        }
        List<String> problems = new ArrayList<>();
        for (Path p : all.reversed()) {
            try {
                Checkpoint c = Checkpoint.load(p);
                if (c.progress() == null) {
                    c.close();
                    throw new ModelFileException("Bad checkpoint " + p + ": it holds weights only, no training position.");
                }
                return c;
            } catch (ModelFileException e) {
                problems.add(e.getMessage());
                log.println("Skipping checkpoint: " + e.getMessage());
                try {
                    Files.move(p, p.resolveSibling(p.getFileName() + ".bad"), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException ignored) {
                    // a read-only folder: it stays, and is skipped again next time
                }
            }
        }
        throw new ModelFileException("No valid checkpoint in " + dir + ": " + String.join(" ", problems));
    }
}
