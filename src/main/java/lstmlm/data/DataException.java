package lstmlm.data;

import lstmlm.errors.UserException;

/**
 * A problem with the input data that the user can fix. Every message says what is wrong
 * and what to do about it, so callers can print it as-is without a stack trace.
 */
public class DataException extends UserException {
    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
