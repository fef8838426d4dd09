package lstmlm.blas;

/** No usable BLAS: the message lists what was tried and how to point at another library. */
public final class BlasUnavailableException extends RuntimeException {
    public BlasUnavailableException(String message) {
        super(message);
    }

    public BlasUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
