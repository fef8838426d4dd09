package lstmlm.cli;

import lstmlm.errors.UserException;

/** Checks of numeric options that several commands share, each a one-line {@link UserException}. */
final class Options {
    private Options() {}

    /** {@code --threads} as given, else {@code byDefault}; at least 1. */
    static int threads(Integer given, int byDefault) {
        int n = given != null ? given : byDefault;
        if (n < 1) throw new UserException("--threads must be at least 1, got " + n);
        return n;
    }

    /**
     * Dynamic batcher worker threads whose batched products run on {@code threads} threads: oneDNN's
     * matmul takes the calling thread's OpenMP team (OpenBLAS's count is process-wide, set apart).
     */
    static java.util.concurrent.ThreadFactory batcherThread(int threads) {
        return r -> lstmlm.infer.DynamicBatcher.defaultWorker().newThread(() -> {
            if (lstmlm.natives.OneDnn.available()) lstmlm.natives.ThreadPolicy.useOpenMpThreads(threads);
            r.run();
        });
    }

    /** {@code --threads} as given, else every core this JVM may use. */
    static int threads(Integer given) {
        return threads(given, Runtime.getRuntime().availableProcessors());
    }

    /** The value {@code parse} names, or a one-line error naming the option, the value and the choices. */
    static <T> T choice(String option, java.util.function.Function<String, T> parse, String value) {
        try {
            return parse.apply(value);
        } catch (IllegalArgumentException e) {
            throw new UserException(option + ": " + e.getMessage() + ".");
        }
    }

    /** An option that must be at least {@code min}. */
    static int atLeast(String option, int value, int min) {
        if (value < min) throw new UserException(option + " must be at least " + min + ", got " + value);
        return value;
    }
}
