package lstmlm.natives;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds native libraries and opens them: the one place native code is located and loaded. Two
 * libraries, each from a Maven Central jar: OpenBLAS ({@code org.bytedeco:openblas}, every fp32
 * GEMM) and oneDNN ({@code org.bytedeco:dnnl}, the bf16 GEMMs; it brings libgomp, its OpenMP).
 *
 * <p>Order, for each: a JVM property ({@code -Dlstm.blas=PATH}, {@code -Dlstm.dnnl=PATH}), then
 * an environment variable ({@code LSTM_BLAS}, {@code LSTM_DNNL}), then the library bundled in its
 * jar on the class path, extracted once into a per-version cache directory. Bundled runtime
 * dependencies are opened first, in dependency order, so the dynamic linker finds them already
 * loaded by soname. Settings the libraries read only when they load (how their idle threads wait)
 * are put into this process's environment first, unless the user has set them.
 */
final class NativeLibraries {
    private NativeLibraries() {}

    /** Where a loaded library came from, for the start-up banner, and its symbols. */
    record Loaded(SymbolLookup lookup, String source) {}

    /** One library as a jar bundles it, and how a user points at another. */
    private record Bundle(String what, String property, String env, String artifact,
                          List<String> files, Map<String, String> environment, String hint) {
        /** Where the jar keeps the files. */
        String resourceDir() {
            return "org/bytedeco/" + artifact + "/linux-x86_64/";
        }

        /** The key of its version in build.properties. */
        String versionKey() {
            return artifact + ".version";
        }
    }

    private static final Bundle OPENBLAS = new Bundle("OpenBLAS", "lstm.blas", "LSTM_BLAS",
            "openblas",
            // dependencies before dependants: libgfortran needs libquadmath and libgcc_s
            List.of("libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"),
            // OpenBLAS worker threads spin ~0.1 s after each call before they sleep, on the cores our
            // kernels need between GEMMs; 2^4 cycles lets them go at once (docs/performance.md).
            // OpenBLAS reads it only from the environment, before its threads start.
            Map.of("OPENBLAS_THREAD_TIMEOUT", "4"),
            "org.bytedeco:openblas:linux-x86_64, or an OpenBLAS shared library (for example"
                    + " /usr/lib/x86_64-linux-gnu/libopenblas.so.0 from Debian's libopenblas0)");

    private static final Bundle ONEDNN = new Bundle("oneDNN", "lstm.dnnl", "LSTM_DNNL",
            "dnnl",
            List.of("libgomp.so.1", "libdnnl.so.3"),
            // libgomp's idle threads spin ~0.3 s by default, on the cores our workers and OpenBLAS
            // need between its calls (two pools spinning against each other on 2 cores starve both);
            // passive waiting puts them to sleep at once.
            Map.of("OMP_WAIT_POLICY", "PASSIVE"),
            "org.bytedeco:dnnl:linux-x86_64 (3.x), or a oneDNN shared library built with OpenMP (libdnnl.so.3)");

    static Loaded openBlas() {
        return open(OPENBLAS);
    }

    static Loaded oneDnn() {
        return open(ONEDNN);
    }

    private static Loaded open(Bundle b) {
        b.environment().forEach(NativeLibraries::setenvUnlessSet);
        String explicit = System.getProperty(b.property());
        String how = "-D" + b.property();
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv(b.env());
            how = b.env();
        }
        if (explicit != null && !explicit.isBlank()) {
            try {
                return new Loaded(SymbolLookup.libraryLookup(Path.of(explicit), Arena.global()),
                        explicit + " (" + how + ")");
            } catch (RuntimeException e) {
                throw new NativeLibraryException("Could not load the " + b.what() + " library given by " + how
                        + ": " + explicit + " (" + e.getMessage() + "). Point it at " + b.hint()
                        + ", or unset it to use the bundled one.", e);
            }
        }
        List<String> tried = new ArrayList<>();
        try {
            Path dir = extractBundled(b);
            SymbolLookup last = null;
            for (String name : b.files()) {
                Path lib = dir.resolve(name);
                tried.add(lib.toString());
                last = SymbolLookup.libraryLookup(lib, Arena.global());
            }
            return new Loaded(last, dir.resolve(b.files().getLast()) + " (bundled org.bytedeco:" + b.artifact() + ")");
        } catch (IOException | RuntimeException e) {
            throw new NativeLibraryException("No " + b.what() + " could be loaded. Tried: "
                    + (tried.isEmpty() ? "the bundled " + b.resourceDir() + " on the class path" : String.join(", ", tried))
                    + " (" + e.getMessage() + "). Put " + b.hint() + " on the class path or point -D"
                    + b.property() + "=PATH or " + b.env() + "=PATH at it.", e);
        }
    }

    /**
     * The MPI library, for data-parallel training: {@code -Dlstm.mpi=PATH}, then {@code LSTM_MPI},
     * then the system's by soname (Open MPI's {@code libmpi.so.40}, MPICH's {@code libmpi.so.12}).
     * Opened with {@code RTLD_GLOBAL}, as Open MPI requires: the components it loads later
     * ({@code mca_*.so}) resolve their symbols against it. Before it loads, the JVM's signals are
     * guarded: the JVM relies on SIGSEGV (implicit null checks, safepoints) and friends, and a
     * transport that installs its own handlers turns them into crashes. UCX installs handlers unless
     * {@code UCX_ERROR_SIGNALS} is empty, Open MPI's {@code opal_signal} (6,7,8,11 by default) only
     * where no handler exists yet (SIGABRT), PSM/PSM2 unless {@code IPATH_NO_BACKTRACE} /
     * {@code HFI_NO_BACKTRACE} are set: all are set here unless the user has set them.
     */
    static Loaded mpi() {
        for (var e : Map.of("UCX_ERROR_SIGNALS", "", "OMPI_MCA_opal_signal", "", "IPATH_NO_BACKTRACE", "1",
                "HFI_NO_BACKTRACE", "1").entrySet()) {
            setenvUnlessSet(e.getKey(), e.getValue());
        }
        String explicit = System.getProperty("lstm.mpi");
        String how = "-Dlstm.mpi";
        if (explicit == null || explicit.isBlank()) {
            explicit = System.getenv("LSTM_MPI");
            how = "LSTM_MPI";
        }
        List<String> candidates = explicit != null && !explicit.isBlank() ? List.of(explicit)
                : List.of("libmpi.so.40", "libmpi.so.12", "libmpi.so");
        List<String> tried = new ArrayList<>();
        for (String name : candidates) {
            String error = dlopenGlobal(name);
            if (error == null) {
                return new Loaded(SymbolLookup.libraryLookup(name, Arena.global()),
                        name + (candidates.size() == 1 ? " (" + how + ")" : ""));
            }
            tried.add(name + ": " + error);
        }
        throw new NativeLibraryException("No MPI library could be loaded (" + String.join("; ", tried) + "). Install"
                + " Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or point -Dlstm.mpi=PATH or"
                + " LSTM_MPI=PATH at a libmpi.so, and start the ranks with mpirun.", null);
    }

    /** dlopen(name, RTLD_NOW | RTLD_GLOBAL); null when it worked, else dlerror()'s message. */
    private static String dlopenGlobal(String name) {
        final int rtldNow = 2, rtldGlobal = 0x100; // <dlfcn.h> on Linux (glibc and musl)
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        try (Arena a = Arena.ofConfined()) {
            var dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(), FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
            MemorySegment handle = (MemorySegment) dlopen.invokeExact(a.allocateFrom(name), rtldNow | rtldGlobal);
            if (!handle.equals(MemorySegment.NULL)) return null;
            var dlerror = linker.downcallHandle(libc.find("dlerror").orElseThrow(), FunctionDescriptor.of(ADDRESS));
            MemorySegment msg = (MemorySegment) dlerror.invokeExact();
            return msg.equals(MemorySegment.NULL) ? "not found" : msg.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return t.toString();
        }
    }

    /** Sets an environment variable of this process (setenv(3)) when the user has not; best effort. */
    private static void setenvUnlessSet(String name, String value) {
        if (System.getenv(name) != null) return;
        try {
            Linker linker = Linker.nativeLinker();
            var setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            try (Arena a = Arena.ofConfined()) {
                int rc = (int) setenv.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 0);
                if (rc != 0) return;
            }
        } catch (Throwable ignored) {
            // only a speed setting: without it the library still works
        }
    }

    /**
     * Copies the bundled libraries into {@code ~/.cache/lstm-lm/NAME-VERSION} (or
     * {@code java.io.tmpdir} when home is not writable). Each file is written to a temp name and
     * renamed, so a concurrent start or a killed one never leaves a half-written library.
     */
    private static Path extractBundled(Bundle b) throws IOException {
        ClassLoader loader = NativeLibraries.class.getClassLoader();
        String main = b.resourceDir() + b.files().getLast();
        if (loader.getResource(main) == null) throw new IOException("the class path has no " + main);
        Path dir = cacheRoot().resolve(b.artifact() + "-" + bundledVersion(loader, b.versionKey()));
        Files.createDirectories(dir);
        for (String file : b.files()) {
            Path target = dir.resolve(file);
            long expected = resourceSize(loader, b.resourceDir() + file);
            if (Files.isRegularFile(target) && Files.size(target) == expected) continue;
            Path tmp = Files.createTempFile(dir, file, ".part");
            try (InputStream in = loader.getResourceAsStream(b.resourceDir() + file)) {
                if (in == null) throw new IOException("missing resource " + b.resourceDir() + file);
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

    /** The version of a bundled library we were built against, recorded by Maven resource filtering. */
    private static String bundledVersion(ClassLoader loader, String key) throws IOException {
        var props = new java.util.Properties();
        try (InputStream in = loader.getResourceAsStream("lstmlm/build.properties")) {
            if (in != null) props.load(in);
        }
        return props.getProperty(key, "unknown");
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
