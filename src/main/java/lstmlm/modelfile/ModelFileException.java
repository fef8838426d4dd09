package lstmlm.modelfile;

import lstmlm.errors.UserException;

/** A model or checkpoint file that is missing, malformed, truncated or does not fit the config. */
public final class ModelFileException extends UserException {
    private static final long serialVersionUID = 1L;

    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
