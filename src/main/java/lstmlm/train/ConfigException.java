package lstmlm.train;

import lstmlm.errors.UserException;

/** A malformed, incomplete or out-of-range configuration; the message names the key and the fix. */
public final class ConfigException extends UserException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
