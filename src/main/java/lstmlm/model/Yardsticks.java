package lstmlm.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import lstmlm.kernels.RowKernels;

/**
 * What one thread of this machine can do at best, for the bounds benchmarks hold their results
 * against: stream bytes, fuse multiply-adds, and how large its last-level cache is.
 */
public final class Yardsticks {
    private Yardsticks() {}

    /**
     * One plain streaming read of {@code bytes} of {@code x} (its floats summed, so the read cannot be
     * elided): how fast one thread pulls weights through the memory system.
     */
    public static float streamingRead(MemorySegment x, long bytes) {
        return RowKernels.streamSum(x, bytes);
    }

    /** One thread's fused multiply-add rate in FLOP/s: the best of ten runs of {@link RowKernels#fmaChains} after a warm-up. */
    public static double fmaFlopsPerSecond() {
        long rounds = 1 << 20;
        float sink = 0;
        for (int i = 0; i < 20; i++) sink += RowKernels.fmaChains(0.5f, i, rounds / 16); // compiled before it is timed
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            long t0 = System.nanoTime();
            sink += RowKernels.fmaChains(0.5f, i, rounds);
            best = Math.min(best, System.nanoTime() - t0);
        }
        if (sink == 42.4242f) System.out.print(""); // keep the sums alive
        return 2.0 * rounds * RowKernels.FMA_CHAINS * RowKernels.floatLanes() / (best / 1e9);
    }

    /**
     * The largest cache of CPU 0 that Linux lists (sysfs {@code cpu0/cache/index*}: highest level, its
     * size), in bytes; 0 where it lists none.
     */
    public static long lastLevelCacheBytes() {
        long best = 0;
        int bestLevel = 0;
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        try (var entries = Files.list(dir)) {
            for (Path index : entries.filter(q -> q.getFileName().toString().startsWith("index")).toList()) {
                int level = Integer.parseInt(Files.readString(index.resolve("level")).strip());
                String size = Files.readString(index.resolve("size")).strip();
                long bytes = cacheSize(size);
                if (level > bestLevel || (level == bestLevel && bytes > best)) {
                    bestLevel = level;
                    best = bytes;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0; // not Linux, or no cache listing
        }
        return best;
    }

    /** sysfs's cache size, "8192K" or "32M", in bytes. */
    public static long cacheSize(String size) {
        char unit = size.charAt(size.length() - 1);
        long scale = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : unit == 'G' ? 1024L * 1024 * 1024 : 1;
        String digits = Character.isDigit(unit) ? size : size.substring(0, size.length() - 1);
        return Long.parseLong(digits) * scale;
    }
}
