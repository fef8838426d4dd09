package lstmlm.train;

import lstmlm.data.BatchProducer;
import lstmlm.errors.UserException;
import lstmlm.model.Engine;
import lstmlm.model.Window;

/** Evaluation over a corpus split, TensorFlow's {@code run_epoch} without training. */
public final class Evaluation {
    private Evaluation() {}

    /**
     * Perplexity over a stream of ids, as TensorFlow's {@code run_epoch} without training: state
     * zeroed at the start and carried from window to window, exp(Σ cost / Σ steps) where cost is a
     * window's summed batch-mean cross-entropy. Training's valid and test passes and {@code lstm
     * eval} all use this, so they print the same number.
     */
    public static double perplexity(Engine engine, Window w, int[] ids) {
        return perplexity(engine, w, ids, () -> false);
    }

    /** The same, given up between two windows (NaN returned) once {@code cancelled} says so. */
    public static double perplexity(Engine engine, Window w, int[] ids, java.util.function.BooleanSupplier cancelled) {
        BatchProducer producer = new BatchProducer(ids, w.batch, w.steps);
        int epochSize = producer.epochSize();
        w.resetState();
        double costs = 0;
        long iters = 0;
        for (int step = 0; step < epochSize; step++) {
            if (cancelled.getAsBoolean()) return Double.NaN;
            producer.window(step, w.inputs, w.targets);
            double loss = engine.evalWindow(w);
            checkFiniteEvaluation(loss, step);
            costs += loss / w.batch;
            iters += w.steps;
        }
        return Math.exp(costs / iters);
    }

    /** An evaluation's loss that is not a number: the weights themselves are not all finite. */
    public static void checkFiniteEvaluation(double loss, int step) {
        if (!Double.isFinite(loss)) {
            throw new UserException("The evaluation's loss is " + loss + " at window " + (step + 1) + ": the model's"
                    + " weights are not all finite numbers (saved from a run that diverged?). Use an earlier checkpoint.");
        }
    }
}
