package lstmlm.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.train.TrainingListener;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code train --metrics FILE.jsonl}: one JSON object a line for every TensorFlow progress line,
 * epoch end and the test, flushed line by line so a reader (or a crash) sees whole lines. Fields:
 * {@code event} (progress|epoch|test), {@code epoch}, {@code step}, {@code epoch_size}, {@code lr},
 * {@code train_ppl}, {@code valid_ppl}, {@code test_ppl} where known, {@code wps}, {@code elapsed_s}.
 * A resumed run appends, and its {@code elapsed_s} goes on from the file's last one.
 */
public final class MetricsWriter implements TrainingListener, AutoCloseable {
    private final Path file;
    private final BufferedWriter writer;
    private final PrintStream warnings;
    private final double elapsedBefore;
    private boolean warned;

    private MetricsWriter(Path file, BufferedWriter writer, PrintStream warnings, double elapsedBefore) {
        this.file = file;
        this.writer = writer;
        this.warnings = warnings;
        this.elapsedBefore = elapsedBefore;
    }

    /**
     * Opens {@code file} for a run: a new run starts it afresh, {@code append} (a resumed run) adds
     * to it after checking that what is there is a metrics file. Fails before training with the
     * file and the problem; write failures later only warn once on {@code warnings}.
     */
    public static MetricsWriter open(Path file, boolean append, PrintStream warnings) {
        OutputPaths.checkWritable(file, "--metrics");
        double elapsedBefore = 0;
        if (append && Files.exists(file)) elapsedBefore = MetricsFile.read(file).elapsedSeconds();
        try {
            BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
            return new MetricsWriter(file, w, warnings, elapsedBefore);
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
        putNumber(line, "elapsed_s", elapsedBefore + s.elapsedSeconds());
        write(line);
    }

    @Override
    public void onEpoch(EpochEnd e) {
        ObjectNode line = event("epoch", e.epoch());
        putNumber(line, "lr", e.learningRate());
        putNumber(line, "train_ppl", e.trainPerplexity());
        putNumber(line, "valid_ppl", e.validPerplexity());
        putNumber(line, "wps", e.wordsPerSecond());
        putNumber(line, "elapsed_s", elapsedBefore + e.elapsedSeconds());
        write(line);
    }

    @Override
    public void onTest(TestEnd t) {
        ObjectNode line = event("test", t.epochs());
        putNumber(line, "test_ppl", t.testPerplexity());
        putNumber(line, "elapsed_s", elapsedBefore + t.elapsedSeconds());
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
