package lstmlm.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's memory as Linux reports it in {@code /proc/self/status}, in bytes: {@code VmSize}
 * (address space reserved: every mapping, touched or not), {@code VmRSS} (resident now) and
 * {@code VmHWM} (the most ever resident). Elsewhere every figure is NaN: a missing number rather than
 * a wrong one.
 */
public record ProcessMemory(double reservedBytes, double residentBytes, double peakResidentBytes) {

    public static ProcessMemory now() {
        double size = Double.NaN, rss = Double.NaN, hwm = Double.NaN;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmSize:")) size = kilobytes(line);
                else if (line.startsWith("VmRSS:")) rss = kilobytes(line);
                else if (line.startsWith("VmHWM:")) hwm = kilobytes(line);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return new ProcessMemory(size, rss, hwm);
    }

    private static double kilobytes(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
    }

    /** What was reserved and made resident between {@code before} and this reading. */
    public ProcessMemory since(ProcessMemory before) {
        return new ProcessMemory(reservedBytes - before.reservedBytes, residentBytes - before.residentBytes,
                peakResidentBytes);
    }
}
