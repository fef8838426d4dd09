package lstmlm.blas;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds OpenBLAS and opens it: the one place native code is located and loaded.
 *
 * <p>Order: {@code -Dlstm.blas=PATH}, then the environment variable {@code LSTM_BLAS}, then the
 * library bundled in {@code org.bytedeco:openblas} (the {@code linux-x86_64} jar on the class
 * path), extracted once into a per-version cache directory. Its runtime dependencies are opened
 * first, in dependency order, so the dynamic linker finds them already loaded by soname.
 */
final class NativeLibraries {
    static final String PROPERTY = "lstm.blas";
    static final String ENV = "LSTM_BLAS";
    private static final String BUNDLE_DIR = "org/bytedeco/openblas/linux-x86_64/";
    /** Dependencies before dependants: libgfortran needs libquadmath and libgcc_s. */
    private static final String[] BUNDLED = {
        "libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"};

    private NativeLibraries() {}

    /** Where the loaded library came from, for the start-up banner. */
    record Loaded(SymbolLookup lookup, String source) {}

    static Loaded openBlas() {
        shortenThreadSpin();
        List<String> tried = new ArrayList<>();
        String explicit = System.getProperty(PROPERTY);
        String how = "-D" + PROPERTY;
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv(ENV);
            how = ENV;
        }
        if (explicit != null && !explicit.isBlank()) {
            try {
                return new Loaded(SymbolLookup.libraryLookup(Path.of(explicit), Arena.global()),
                        explicit + " (" + how + ")");
            } catch (RuntimeException e) {
                throw new BlasUnavailableException("Could not load the BLAS library given by " + how
                        + ": " + explicit + " (" + e.getMessage() + "). Point it at an OpenBLAS shared"
                        + " library (libopenblas.so.0), or unset it to use the bundled one.", e);
            }
        }
        try {
            Path dir = extractBundled();
            SymbolLookup last = null;
            for (String name : BUNDLED) {
                Path lib = dir.resolve(name);
                tried.add(lib.toString());
                last = SymbolLookup.libraryLookup(lib, Arena.global());
            }
            return new Loaded(last, dir.resolve(BUNDLED[BUNDLED.length - 1]) + " (bundled org.bytedeco:openblas)");
        } catch (IOException | RuntimeException e) {
            throw new BlasUnavailableException("No OpenBLAS could be loaded. Tried: "
                    + (tried.isEmpty() ? "the bundled org.bytedeco:openblas linux-x86_64 jar" : String.join(", ", tried))
                    + " (" + e.getMessage() + "). Put org.bytedeco:openblas:linux-x86_64 on the class path, or"
                    + " point -D" + PROPERTY + "=PATH or " + ENV + "=PATH at an OpenBLAS shared library"
                    + " (for example /usr/lib/x86_64-linux-gnu/libopenblas.so.0 from Debian's libopenblas0).", e);
        }
    }

    /**
     * OpenBLAS worker threads spin for 2^28 cycles (~0.1 s) after each call before they sleep. Our
     * own kernels run on the same cores between GEMMs, and measured 1.8x slower against spinning
     * workers; 2^4 cycles lets them go at once. OpenBLAS reads this at load time, so it is set in
     * this process's environment before the library is opened, and only when the user has not set
     * it.
     */
    private static void shortenThreadSpin() {
        if (System.getenv("OPENBLAS_THREAD_TIMEOUT") != null) return;
        try {
            Linker linker = Linker.nativeLinker();
            var setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            try (Arena a = Arena.ofConfined()) {
                int rc = (int) setenv.invokeExact(a.allocateFrom("OPENBLAS_THREAD_TIMEOUT"), a.allocateFrom("4"), 0);
                if (rc != 0) return;
            }
        } catch (Throwable ignored) {
            // only a speed setting: without it OpenBLAS still works
        }
    }

    /**
     * Copies the bundled libraries into {@code ~/.cache/lstm-lm/openblas-VERSION} (or
     * {@code java.io.tmpdir} when home is not writable). Each file is written to a temp name and
     * renamed, so a concurrent start or a killed one never leaves a half-written library.
     */
    private static Path extractBundled() throws IOException {
        ClassLoader loader = NativeLibraries.class.getClassLoader();
        if (loader.getResource(BUNDLE_DIR + BUNDLED[BUNDLED.length - 1]) == null) {
            throw new IOException("the class path has no " + BUNDLE_DIR + BUNDLED[BUNDLED.length - 1]);
        }
        String version = bundledVersion(loader);
        Path dir = cacheRoot().resolve("openblas-" + version);
        Files.createDirectories(dir);
        for (String name : BUNDLED) {
            Path target = dir.resolve(name);
            long expected = resourceSize(loader, BUNDLE_DIR + name);
            if (Files.isRegularFile(target) && Files.size(target) == expected) continue;
            Path tmp = Files.createTempFile(dir, name, ".part");
            try (InputStream in = loader.getResourceAsStream(BUNDLE_DIR + name)) {
                if (in == null) throw new IOException("missing resource " + BUNDLE_DIR + name);
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dir;
    }

    private static long resourceSize(ClassLoader loader, String name) throws IOException {
        var url = loader.getResource(name);
        if (url == null) throw new IOException("missing resource " + name);
        var conn = url.openConnection();
        conn.setUseCaches(false);
        return conn.getContentLengthLong();
    }

    /** The org.bytedeco:openblas version we were built against, recorded by Maven resource filtering. */
    private static String bundledVersion(ClassLoader loader) throws IOException {
        var props = new java.util.Properties();
        try (InputStream in = loader.getResourceAsStream("lstmlm/build.properties")) {
            if (in != null) props.load(in);
        }
        return props.getProperty("openblas.version", "unknown");
    }

    private static Path cacheRoot() {
        String home = System.getProperty("user.home");
        if (home != null) {
            Path p = Path.of(home, ".cache", "lstm-lm");
            try {
                Files.createDirectories(p);
                if (Files.isWritable(p)) return p;
            } catch (IOException ignored) {
                // fall through to the temp dir
            }
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "lstm-lm-" + System.getProperty("user.name"));
    }
}
