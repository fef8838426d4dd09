package lstmlm.train;

import java.nio.file.Path;
import java.util.List;

/**
 * What a run reports while it goes, for whoever watches it: a progress bar, a metrics file, a
 * plot. Called on the training thread, so an implementation must be quick and must not throw
 * for trouble of its own (a watcher's failure is no reason to lose a run). Epochs are 1-based,
 * as in TensorFlow's lines; {@code step} counts the windows of the epoch done so far.
 */
public interface TrainingListener {

    /** An epoch's training pass begins, at this learning rate. */
    record EpochStart(int epoch, double learningRate) {}

    /** After a training window: where the epoch stands and TF's running numbers. */
    record Step(int epoch, int step, int epochSize, double learningRate, double perplexity,
                double wordsPerSecond, double elapsedSeconds) {}

    /** After an epoch's training pass, before its valid evaluation. */
    record TrainingPass(int epoch, double learningRate, double trainPerplexity) {}

    /** After an epoch's training pass and its valid evaluation; words per second of the training pass. */
    record EpochEnd(int epoch, double learningRate, double trainPerplexity, double validPerplexity,
                    double wordsPerSecond, double elapsedSeconds) {}

    /** After the final test evaluation, {@code epochs} epochs in. */
    record TestEnd(int epochs, double testPerplexity, double elapsedSeconds) {}

    default void onEpochStart(EpochStart start) {}

    /** Every training window (the progress bar's pace). */
    default void onStep(Step step) {}

    /** At the windows where TensorFlow prints its "perplexity: ... speed: ... wps" line, with the same numbers. */
    default void onProgress(Step step) {}

    default void onTrainingPass(TrainingPass pass) {}

    default void onEpoch(EpochEnd epoch) {}

    /** A checkpoint of the run's position was written (epoch ends and every --checkpoint-every windows). */
    default void onCheckpoint(Path file) {}

    default void onTest(TestEnd test) {}

    TrainingListener NONE = new TrainingListener() {};

    /** One listener that tells each of {@code listeners}, in order. */
    static TrainingListener all(List<? extends TrainingListener> listeners) {
        List<TrainingListener> copy = List.copyOf(listeners);
        return new TrainingListener() {
            @Override
            public void onEpochStart(EpochStart start) {
                for (TrainingListener l : copy) l.onEpochStart(start);
            }

            @Override
            public void onStep(Step step) {
                for (TrainingListener l : copy) l.onStep(step);
            }

            @Override
            public void onProgress(Step step) {
                for (TrainingListener l : copy) l.onProgress(step);
            }

            @Override
            public void onTrainingPass(TrainingPass pass) {
                for (TrainingListener l : copy) l.onTrainingPass(pass);
            }

            @Override
            public void onEpoch(EpochEnd epoch) {
                for (TrainingListener l : copy) l.onEpoch(epoch);
            }

            @Override
            public void onCheckpoint(Path file) {
                for (TrainingListener l : copy) l.onCheckpoint(file);
            }

            @Override
            public void onTest(TestEnd test) {
                for (TrainingListener l : copy) l.onTest(test);
            }
        };
    }
}
