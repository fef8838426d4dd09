package lstmlm.report;

import lstmlm.errors.UserException;

/** A metrics file or image path the user has to fix; the message names the file and the problem. */
public final class ReportException extends UserException {
    private static final long serialVersionUID = 1L;

    public ReportException(String message) {
        super(message);
    }

    public ReportException(String message, Throwable cause) {
        super(message, cause);
    }
}
