package lstmlm.blas;

import lstmlm.errors.UserException;

/** No usable BLAS: the message lists what was tried and how to point at another library. */
public final class BlasUnavailableException extends UserException {
    private static final long serialVersionUID = 1L;

    public BlasUnavailableException(String message) {
        super(message);
    }

    public BlasUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
