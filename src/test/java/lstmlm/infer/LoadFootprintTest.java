package lstmlm.infer;

import lstmlm.model.ProcessMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Loading for inference maps the file and allocates next to nothing: no gradients, no training
 * window, no packed training panels. Measured on a file of medium's shape (2×650, 10k words, 79 MB
 * of tensors) as the address space the process gains across {@link Model#load}; the least of three
 * loads, since another thread of the JVM may reserve memory of its own meanwhile.
 */
class LoadFootprintTest {
    @TempDir
    Path dir;

    @Test
    void loadingReservesAboutTheFileAndNoTrainingState() {
        assumeTrue(Double.isFinite(ProcessMemory.now().reservedBytes()), "no /proc/self/status here");
        Path file = TestModels.write(dir, 10_000, 650, 2, 1, 0.05f);
        try (Model warm = Model.load(file)) { // the classes and the JIT's first work out of the way
            warm.newSession().close();
        }
        double least = Double.MAX_VALUE;
        long tensorBytes = 0;
        for (int i = 0; i < 3; i++) {
            ProcessMemory before = ProcessMemory.now();
            try (Model model = Model.load(file)) {
                least = Math.min(least, ProcessMemory.now().since(before).reservedBytes());
                tensorBytes = model.fileBytes();
            }
        }
        System.out.printf(Locale.ROOT, "Model.load of a medium-shaped file: %.1f MB reserved for %.1f MB of tensors (%.3fx)%n",
                least / 1e6, tensorBytes / 1e6, least / tensorBytes);
        assertTrue(least <= 1.25 * tensorBytes, "reserved " + least + " bytes for " + tensorBytes + " bytes of tensors");
        assertTrue(least >= 0.9 * tensorBytes, "the mapping itself should show: " + least);
    }
}
