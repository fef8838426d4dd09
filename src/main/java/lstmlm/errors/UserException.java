package lstmlm.errors;

/**
 * A problem the user fixes: a bad option, file, config or corpus, or a run whose settings made it
 * diverge. The message is one sentence or two that names the thing and the fix; the command line
 * prints it as one line and exits with code 2, and an embedding program can catch this one type.
 * The engine's packages raise subclasses that say where the problem lies ({@code DataException},
 * {@code ModelFileException}, {@code ConfigException}, ...).
 */
public class UserException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserException(String message) {
        super(message);
    }

    public UserException(String message, Throwable cause) {
        super(message, cause);
    }
}
