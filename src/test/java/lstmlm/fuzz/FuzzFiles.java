package lstmlm.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where fuzz targets put an input that the code under test reads as a file: one scratch folder per
 * JVM, in memory (/dev/shm) where there is one, so an execution costs a write, not a disk sync.
 */
public final class FuzzFiles {
    private static final Path DIR = create();

    private FuzzFiles() {}

    private static Path create() {
        try {
            Path shm = Path.of("/dev/shm");
            Path dir = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "lstm-fuzz")
                    : Files.createTempDirectory("lstm-fuzz");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code bytes} to the scratch file {@code name} (replacing it) and returns its path. */
    public static Path write(String name, byte[] bytes) {
        try {
            Path file = DIR.resolve(name);
            Files.write(file, bytes);
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A fresh empty folder inside the scratch folder. */
    public static Path folder(String name) {
        try {
            Path dir = DIR.resolve(name);
            if (Files.exists(dir)) {
                try (var files = Files.walk(dir)) {
                    for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
                }
            }
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Fails unless {@code message} names {@code file}: every refusal must say which file it is about. */
    public static void assertNames(String message, Path file, Throwable e) {
        if (message == null || !message.contains(file.toString())) {
            throw new AssertionError("the error does not name " + file + ": " + message, e);
        }
    }
}
