package lstmlm.cli;

import lstmlm.report.CurvePlotter;
import lstmlm.report.EpochProgressBar;
import lstmlm.report.MetricsFile;
import lstmlm.report.MetricsWriter;
import lstmlm.report.ReportException;
import lstmlm.report.TrainingCurve;
import lstmlm.train.Config;
import lstmlm.train.TensorFlowLines;
import lstmlm.train.Trainer;
import lstmlm.train.TrainingListener;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What {@code train} wires to the trainer for people to watch: TensorFlow's lines, the progress bar, the metrics file, the plot. */
final class RunWatchers implements AutoCloseable {
    private final EpochProgressBar bar;
    private final MetricsWriter metrics;

    private RunWatchers(EpochProgressBar bar, MetricsWriter metrics) {
        this.bar = bar;
        this.metrics = metrics;
    }

    /** Nothing watching: a data-parallel run's ranks other than 0. */
    static RunWatchers none() {
        return new RunWatchers(null, null);
    }

    /** Fails before any training when an output cannot be written, or an appended metrics file is not one. */
    static void checkOutputs(Path metrics, Path plot, boolean resuming) {
        if (plot != null) TrainingCurve.checkOutput(plot, "--plot");
        if (metrics != null) {
            MetricsWriter.checkOutput(metrics);
            if (resuming && Files.exists(metrics)) MetricsFile.read(metrics); // appending: it has to be one already
        }
    }

    /** TensorFlow's lines on {@code lines} first, then the bar, the metrics file and the plot as asked. */
    static RunWatchers wire(Trainer trainer, Config config, PrintStream lines, boolean resuming, Path metricsFile,
                            Path plotFile, boolean showBar) {
        List<TrainingListener> listeners = new ArrayList<>();
        listeners.add(new TensorFlowLines(lines));
        EpochProgressBar bar = showBar ? new EpochProgressBar(System.out) : null;
        if (bar != null) listeners.add(bar);
        MetricsWriter metrics = null;
        try {
            if (metricsFile != null) {
                metrics = MetricsWriter.open(metricsFile, resuming ? trainer.progress() : null, System.err);
                listeners.add(metrics);
            }
            if (plotFile != null) {
                // a resumed run's picture starts with the epochs its checkpoint remembers
                var progress = trainer.progress();
                List<MetricsFile.EpochPoint> earlier = new ArrayList<>();
                for (int e = 0; e < progress.trainPerplexities().size(); e++) {
                    earlier.add(new MetricsFile.EpochPoint(e + 1, config.learningRate(e, progress.validPerplexities()),
                            progress.trainPerplexities().get(e), progress.validPerplexities().get(e)));
                }
                listeners.add(new CurvePlotter(plotFile, "Training curve: " + config.name() + " config", earlier, System.err));
            }
        } catch (ReportException e) {
            if (metrics != null) metrics.close();
            throw e;
        }
        trainer.listen(TrainingListener.all(listeners));
        return new RunWatchers(bar, metrics);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
        if (metrics != null) metrics.close();
    }
}
