package lstmlm.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Checks on output files made before a run starts, and the write-then-rename that keeps a reader from a half file. */
final class OutputPaths {
    private OutputPaths() {}

    /** Fails when {@code file}'s folder is missing or {@code file} is itself a folder, naming the {@code what} (e.g. "--metrics"). */
    static void checkWritable(Path file, String what) {
        Path abs = file.toAbsolutePath();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new ReportException(what + " " + file + ": the folder " + parent + " does not exist. Create it first.");
        }
        if (Files.isDirectory(abs)) throw new ReportException(what + " " + file + " is a folder, not a file.");
        if (!Files.isWritable(parent)) throw new ReportException(what + " " + file + ": the folder " + parent + " is not writable.");
    }

    interface Writer {
        void writeTo(java.io.OutputStream out) throws IOException;
    }

    /** Writes to a temporary file beside {@code file}, fsyncs it, then renames it over {@code file}: a crash leaves the old file or the new one. */
    static void writeAtomically(Path file, Writer writer) throws IOException {
        lstmlm.modelfile.AtomicFile.write(file, channel -> {
            var out = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(channel));
            writer.writeTo(out);
            out.flush();
        });
    }
}
