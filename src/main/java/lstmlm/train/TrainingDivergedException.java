package lstmlm.train;

import lstmlm.errors.UserException;

/** The training loss stopped being a number: the message names where and what to change. */
public final class TrainingDivergedException extends UserException {
    private static final long serialVersionUID = 1L;

    public TrainingDivergedException(double loss, int epoch, int step, long globalStep) {
        super("Training diverged: the loss became " + loss + " in epoch " + epoch + ", window " + step + " (global step "
                + globalStep + "). Lower learning_rate or max_grad_norm (--set learning_rate=...), or resume from an"
                + " earlier checkpoint with a lower rate.");
    }
}
