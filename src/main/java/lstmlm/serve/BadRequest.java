package lstmlm.serve;

/** A request the server refuses: the HTTP status (4xx) and a one-line message for the client. */
public final class BadRequest extends RuntimeException {
    private final int status;

    public BadRequest(int status, String message) {
        super(message, null, false, false);
        if (status < 400 || status > 499) throw new IllegalArgumentException("a bad request is a 4xx, got " + status);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
