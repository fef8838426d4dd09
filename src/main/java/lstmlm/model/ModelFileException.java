package lstmlm.model;

/** A model or checkpoint file that is missing, malformed, truncated or does not fit the config. */
public final class ModelFileException extends RuntimeException {
    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
