package lstmlm.report;

import lstmlm.train.TrainingListener;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

/**
 * {@code train --plot FILE}: redraws the training curve after every epoch and after the test.
 * Drawing is a nicety: when it fails the run warns once and trains on.
 */
public final class CurvePlotter implements TrainingListener {
    private final Path file;
    private final String title;
    private final PrintStream warnings;
    private final List<MetricsFile.EpochPoint> epochs = new ArrayList<>();
    private OptionalDouble test = OptionalDouble.empty();
    private boolean warned;

    /**
     * Checks {@code file} (extension, folder) now, before training; {@code earlier} are the epochs
     * a resumed run already has, so the picture shows the whole run.
     */
    public CurvePlotter(Path file, String title, List<MetricsFile.EpochPoint> earlier, PrintStream warnings) {
        TrainingCurve.checkOutput(file, "--plot");
        this.file = file;
        this.title = title;
        this.warnings = warnings;
        epochs.addAll(earlier);
    }

    @Override
    public void onEpoch(EpochEnd e) {
        epochs.removeIf(p -> p.epoch() == e.epoch());
        epochs.add(new MetricsFile.EpochPoint(e.epoch(), e.learningRate(), e.trainPerplexity(), e.validPerplexity()));
        draw();
    }

    @Override
    public void onTest(TestEnd t) {
        test = OptionalDouble.of(t.testPerplexity());
        draw();
    }

    private void draw() {
        try {
            TrainingCurve.write(List.of(new TrainingCurve.Run(title, List.copyOf(epochs), test)), title, file,
                    TrainingCurve.DEFAULT_WIDTH, TrainingCurve.DEFAULT_HEIGHT);
        } catch (Exception | LinkageError | java.awt.AWTError e) {
            // fonts or native graphics missing, a full disk: the run matters more than its picture
            if (warned) return;
            warned = true;
            warnings.println("warning: cannot draw the training curve to " + file + " (" + e
                    + "); training goes on, and this warning is not repeated.");
        }
    }
}
