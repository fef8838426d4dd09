package lstmlm.train;

import java.nio.file.Path;

/**
 * {@link Trainer#run} ended early because {@link Trainer#requestStop} asked it to: where the run
 * stood and the checkpoint that holds that position exactly (null when the trainer had nowhere to
 * save). Resuming from that checkpoint continues as if the run had never stopped.
 */
public final class TrainingStoppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path checkpoint;
    private final int epoch, step, epochSize;
    private final long globalStep;

    TrainingStoppedException(Path checkpoint, int epoch, int step, int epochSize, long globalStep) {
        super("Training stopped in epoch " + epoch + " after window " + step + " of " + epochSize + " (global step "
                + globalStep + ")" + (checkpoint != null ? "; checkpoint " + checkpoint : "; nothing saved"));
        this.checkpoint = checkpoint;
        this.epoch = epoch;
        this.step = step;
        this.epochSize = epochSize;
        this.globalStep = globalStep;
    }

    /** The checkpoint written (or already written) at the stop, or null without a checkpoint folder. */
    public Path checkpoint() {
        return checkpoint;
    }

    /** 1-based epoch in progress. */
    public int epoch() {
        return epoch;
    }

    /** Windows of that epoch done. */
    public int step() {
        return step;
    }

    public int epochSize() {
        return epochSize;
    }

    public long globalStep() {
        return globalStep;
    }
}
