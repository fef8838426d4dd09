package lstmlm.report;

import java.util.Locale;

/**
 * A run's metrics as the README publishes them: a Markdown table with a row per epoch (learning
 * rate, train and valid perplexity, training speed), then the best validation epoch, the test
 * perplexity and the training time. Numbers are printed as TensorFlow's lines print them (three
 * decimals), so a row can be checked against the run's log by eye.
 */
public final class MetricsTable {

    private MetricsTable() {}

    /** The table and the lines under it, each line ending in a newline; a file with no epoch is an error. */
    public static String markdown(MetricsFile m) {
        m.requireEpochs("tabulate");
        StringBuilder out = new StringBuilder();
        out.append("| epoch | lr | train | valid | training speed |\n");
        out.append("|---|---|---|---|---|\n");
        MetricsFile.EpochPoint best = null;
        for (MetricsFile.EpochPoint e : m.epochs()) {
            out.append(String.format(Locale.ROOT, "| %d | %.3f | %.3f | %.3f | %s |\n", e.epoch(), e.learningRate(),
                    e.trainPerplexity(), e.validPerplexity(), speed(e.wordsPerSecond())));
            if (best == null || e.validPerplexity() < best.validPerplexity()) best = e;
        }
        MetricsFile.EpochPoint last = m.epochs().getLast();
        out.append('\n');
        out.append(String.format(Locale.ROOT, "Best valid %.3f at epoch %d of %d.\n", best.validPerplexity(), best.epoch(),
                last.epoch()));
        if (m.testPerplexity().isPresent()) {
            out.append(String.format(Locale.ROOT, "Test perplexity %.3f (valid %.3f, train %.3f at epoch %d).\n",
                    m.testPerplexity().getAsDouble(), last.validPerplexity(), last.trainPerplexity(), last.epoch()));
        } else {
            out.append("No test perplexity yet: the run has not finished.\n");
        }
        out.append(String.format(Locale.ROOT, "%s s of training time (%.1f hours) in all, validation%s included.\n",
                thousands(m.elapsedSeconds()), m.elapsedSeconds() / 3600, m.testPerplexity().isPresent() ? " and test" : ""));
        return out.toString();
    }

    private static String speed(double wordsPerSecond) {
        return Double.isFinite(wordsPerSecond) ? thousands(wordsPerSecond) + " wps" : "–";
    }

    private static String thousands(double v) {
        return String.format(Locale.ROOT, "%,d", Math.round(v));
    }
}
