package lstmlm.dist;

import java.util.List;

/** The mpirun flags a test needs on one machine, as root, in a container (see scripts/mpirun-local.sh). */
final class MpiLaunch {
    private MpiLaunch() {}

    /** {@code mpirun -np 2} with {@link #localFlags}, starting this JVM's java on the test class path with {@code main} and {@code args}. */
    static List<String> twoRanks(String mpirun, String main, List<String> args) {
        String jvm = ProcessHandle.current().info().command()
                .orElse(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> c = new java.util.ArrayList<>(List.of(mpirun, "-np", "2"));
        c.addAll(localFlags());
        c.addAll(List.of(jvm, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:-UseProfiledLoopPredicate", "-cp", System.getProperty("java.class.path"), main));
        c.addAll(args);
        return c;
    }

    /**
     * The mpirun on the PATH; a test without one is skipped, or fails where {@code LSTM_REQUIRE_MPI}
     * is set (CI, which installs Open MPI).
     */
    static String mpirunOrSkip() {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            java.nio.file.Path p = java.nio.file.Path.of(d, "mpirun");
            if (java.nio.file.Files.isExecutable(p)) return p.toString();
        }
        if (System.getenv("LSTM_REQUIRE_MPI") != null) {
            throw new AssertionError("LSTM_REQUIRE_MPI is set but mpirun is not on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
        }
        org.junit.jupiter.api.Assumptions.abort("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)");
        return null;
    }

    static List<String> localFlags() {
        return List.of("--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                // CMA (process_vm_readv) is refused in many containers; shared-memory copies through a buffer work everywhere
                "--mca", "btl_vader_single_copy_mechanism", "none",
                "-x", "OPENBLAS_NUM_THREADS=1");
    }
}
