package lstmlm.train;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The lines TensorFlow's {@code ptb_word_lm.py} prints, in its order and format, so logs compare
 * line by line; plus one line per checkpoint written, which TF does not have.
 */
public final class TensorFlowLines implements TrainingListener {
    private final PrintStream out;

    public TensorFlowLines(PrintStream out) {
        this.out = out;
    }

    @Override
    public void onEpochStart(EpochStart s) {
        out.printf(Locale.ROOT, "Epoch: %d Learning rate: %.3f%n", s.epoch(), s.learningRate());
    }

    /** TF prints at window index i with i % (epoch_size / 10) == 10; {@code step} counts windows done, i + 1. */
    @Override
    public void onProgress(Step s) {
        out.printf(Locale.ROOT, "%.3f perplexity: %.3f speed: %.0f wps%n", (s.step() - 1) * 1.0 / s.epochSize(),
                s.perplexity(), s.wordsPerSecond());
    }

    @Override
    public void onTrainingPass(TrainingPass p) {
        out.printf(Locale.ROOT, "Epoch: %d Train Perplexity: %.3f%n", p.epoch(), p.trainPerplexity());
    }

    @Override
    public void onEpoch(EpochEnd e) {
        out.printf(Locale.ROOT, "Epoch: %d Valid Perplexity: %.3f%n", e.epoch(), e.validPerplexity());
    }

    @Override
    public void onCheckpoint(Path file) {
        out.println("Saved checkpoint " + file);
    }

    @Override
    public void onTest(TestEnd t) {
        out.printf(Locale.ROOT, "Test Perplexity: %.3f%n", t.testPerplexity());
    }
}
