package lstmlm.interop;

import lstmlm.errors.UserException;

/** A PyTorch file that cannot be imported: not a state dict, refused content, or a model this engine does not run. */
public final class TorchFileException extends UserException {
    private static final long serialVersionUID = 1L;

    public TorchFileException(String message) {
        super(message);
    }

    public TorchFileException(String message, Throwable cause) {
        super(message, cause);
    }

    /** At most the first eight names from a file, {@link #shown} each, and how many more: for a one-line message. */
    static String preview(java.util.Collection<?> names) {
        java.util.List<String> first = names.stream().limit(8).map(TorchFileException::shown).toList();
        return first + (names.size() > 8 ? " and " + (names.size() - 8) + " more" : "");
    }

    /**
     * A name from the file as a message may show it: control characters escaped, so that a message stays
     * one line (found by fuzzing: a tensor name with a newline), and at most 80 characters.
     */
    static String shown(Object name) {
        String s = String.valueOf(name);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length() && out.length() < 80; i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || Character.getType(c) == Character.LINE_SEPARATOR
                    || Character.getType(c) == Character.PARAGRAPH_SEPARATOR) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.length() < s.length() && out.length() >= 80 ? out + "..." : out.toString();
    }
}
