package lstmlm.train;

/** A malformed, incomplete or out-of-range configuration; the message names the key and the fix. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
