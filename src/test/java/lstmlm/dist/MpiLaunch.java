package lstmlm.dist;

import java.util.List;

/** The mpirun flags a test needs on one machine, as root, in a container (see scripts/mpirun-local.sh). */
final class MpiLaunch {
    private MpiLaunch() {}

    static List<String> localFlags() {
        return List.of("--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                // CMA (process_vm_readv) is refused in many containers; shared-memory copies through a buffer work everywhere
                "--mca", "btl_vader_single_copy_mechanism", "none",
                "-x", "OPENBLAS_NUM_THREADS=1");
    }
}
