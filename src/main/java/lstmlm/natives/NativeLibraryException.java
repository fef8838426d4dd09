package lstmlm.natives;

import lstmlm.errors.UserException;

/**
 * A native library (OpenBLAS, oneDNN, MPI) that cannot be loaded or started: the message lists what
 * was tried and how to point at another library.
 */
public final class NativeLibraryException extends UserException {
    private static final long serialVersionUID = 1L;

    public NativeLibraryException(String message) {
        super(message);
    }

    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
