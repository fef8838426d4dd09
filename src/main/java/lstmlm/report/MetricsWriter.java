package lstmlm.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.train.Checkpoint;
import lstmlm.train.TrainingListener;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code train --metrics FILE.jsonl}: one JSON object a line for every TensorFlow progress line,
 * epoch end and the test, flushed line by line so a reader (or a crash) sees whole lines. Fields:
 * {@code event} (progress|epoch|test), {@code epoch}, {@code step}, {@code epoch_size}, {@code lr},
 * {@code train_ppl}, {@code valid_ppl}, {@code test_ppl} where known, {@code wps}, {@code elapsed_s}
 * (the run's training time, all its processes: the trainer's clock goes on from the checkpoint's).
 * A resumed run first drops the lines written past the checkpoint it resumes from (it writes them
 * again, as TensorBoard purges orphaned events), then appends: the file reads as one run's.
 */
public final class MetricsWriter implements TrainingListener, AutoCloseable {
    private final Path file;
    private final BufferedWriter writer;
    private final PrintStream warnings;
    /** Added to the trainer's clock: 0, or the file's time when the checkpoint does not know the run's. */
    private final double elapsedOffset;
    private boolean warned;

    private MetricsWriter(Path file, BufferedWriter writer, PrintStream warnings, double elapsedOffset) {
        this.file = file;
        this.writer = writer;
        this.warnings = warnings;
        this.elapsedOffset = elapsedOffset;
    }

    /**
     * Opens {@code file} for a run: a new run ({@code resumedFrom} null) starts it afresh; a run
     * resumed from a checkpoint at {@code resumedFrom} keeps the lines written up to that position
     * (rewriting the file, temp file and rename, only when there are others) and appends after
     * them. Fails before training with the file and the problem; write failures later only warn
     * once on {@code warnings}.
     */
    public static MetricsWriter open(Path file, Checkpoint.Progress resumedFrom, PrintStream warnings) {
        OutputPaths.checkWritable(file, "--metrics");
        boolean append = resumedFrom != null && Files.exists(file);
        double offset = 0;
        if (append) {
            List<MetricsFile.Line> lines = MetricsFile.lines(file), kept = new ArrayList<>();
            for (MetricsFile.Line line : lines) {
                int[] at = line.position();
                if (at == null || resumedFrom.reached(at[0], at[1])) kept.add(line);
            }
            if (Double.isNaN(resumedFrom.elapsedSeconds())) {
                // a checkpoint from before elapsed_s: the trainer counts this process only; go on from the file's time
                for (MetricsFile.Line line : kept) {
                    if (!Double.isNaN(line.elapsedSeconds())) offset = line.elapsedSeconds();
                }
            }
            if (kept.size() < lines.size()) {
                try {
                    OutputPaths.writeAtomically(file, out -> {
                        for (MetricsFile.Line line : kept) out.write((line.text() + "\n").getBytes(StandardCharsets.UTF_8));
                    });
                } catch (IOException e) {
                    throw new ReportException("Cannot rewrite metrics file " + file + " to the checkpoint's position: "
                            + e.getMessage(), e);
                }
            }
        }
        try {
            BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
            return new MetricsWriter(file, w, warnings, offset);
        } catch (IOException e) {
            throw new ReportException("Cannot write metrics file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Checks before training that {@code file} can be written: its folder exists. */
    public static void checkOutput(Path file) {
        OutputPaths.checkWritable(file, "--metrics");
    }

    public Path file() {
        return file;
    }

    @Override
    public void onProgress(Step s) {
        ObjectNode line = event("progress", s.epoch());
        line.put("step", s.step());
        line.put("epoch_size", s.epochSize());
        putNumber(line, "lr", s.learningRate());
        putNumber(line, "train_ppl", s.perplexity());
        putNumber(line, "wps", s.wordsPerSecond());
        putNumber(line, "elapsed_s", elapsedOffset + s.elapsedSeconds());
        write(line);
    }

    @Override
    public void onEpoch(EpochEnd e) {
        ObjectNode line = event("epoch", e.epoch());
        putNumber(line, "lr", e.learningRate());
        putNumber(line, "train_ppl", e.trainPerplexity());
        putNumber(line, "valid_ppl", e.validPerplexity());
        putNumber(line, "wps", e.wordsPerSecond());
        putNumber(line, "elapsed_s", elapsedOffset + e.elapsedSeconds());
        write(line);
    }

    @Override
    public void onTest(TestEnd t) {
        ObjectNode line = event("test", t.epochs());
        putNumber(line, "test_ppl", t.testPerplexity());
        putNumber(line, "elapsed_s", elapsedOffset + t.elapsedSeconds());
        write(line);
    }

    private static ObjectNode event(String kind, int epoch) {
        ObjectNode line = MetricsFile.JSON.createObjectNode();
        line.put("event", kind);
        line.put("epoch", epoch);
        return line;
    }

    /** JSON has no NaN or infinity: an unknown number is null. */
    private static void putNumber(ObjectNode line, String key, double value) {
        if (Double.isFinite(value)) line.put(key, value);
        else line.putNull(key);
    }

    private void write(ObjectNode line) {
        try {
            writer.write(MetricsFile.JSON.writeValueAsString(line));
            writer.write('\n');
            writer.flush();
        } catch (IOException e) {
            warnOnce(e);
        }
    }

    /** A full disk should not cost the run: say so once and train on. */
    private void warnOnce(Exception e) {
        if (warned) return;
        warned = true;
        warnings.println("warning: cannot write metrics to " + file + " (" + e.getMessage()
                + "); training goes on without them.");
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException e) {
            warnOnce(e);
        }
    }
}
