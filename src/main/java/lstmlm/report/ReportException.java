package lstmlm.report;

/** A metrics file or image path the user has to fix; the message names the file and the problem. */
public final class ReportException extends RuntimeException {
    public ReportException(String message) {
        super(message);
    }

    public ReportException(String message, Throwable cause) {
        super(message, cause);
    }
}
