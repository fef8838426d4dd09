package lstmlm.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Writes the parameters as a safetensors file: 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, an optional {@code __metadata__} map of
 * strings, then the raw little-endian float32 data in {@link ParameterLayout} order.
 *
 * <p>The write is atomic: a temp file in the same folder, fsync, rename over the target, fsync of
 * the folder. A crash at any point leaves either the old file or the new one, never a mix.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    public static void write(Path file, ParameterLayout layout, MemorySegment params, Map<String, String> metadata)
            throws IOException {
        StringBuilder json = new StringBuilder("{");
        json.append("\"__metadata__\":{");
        boolean first = true;
        for (var e : metadata.entrySet()) {
            if (!first) json.append(',');
            first = false;
            appendString(json, e.getKey()).append(':');
            appendString(json, e.getValue());
        }
        json.append('}');
        long dataOffset = 0;
        for (ParameterLayout.Tensor t : layout.tensors()) {
            long bytes = t.size() * Float.BYTES;
            json.append(',');
            appendString(json, t.name()).append(":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < t.dims().length; i++) {
                if (i > 0) json.append(',');
                json.append(t.dims()[i]);
            }
            json.append("],\"data_offsets\":[").append(dataOffset).append(',').append(dataOffset + bytes).append("]}");
            dataOffset += bytes;
        }
        json.append('}');
        // pad with spaces so the data starts 8-byte aligned, as the format recommends
        while ((json.length() + 8) % 8 != 0) json.append(' ');
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        while ((header.length + 8) % 8 != 0) {
            json.append(' ');
            header = json.toString().getBytes(StandardCharsets.UTF_8);
        }

        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                for (ParameterLayout.Tensor t : layout.tensors()) {
                    MemorySegment slice = params.asSlice(t.offset() * Float.BYTES, t.size() * Float.BYTES);
                    ByteBuffer data = slice.asByteBuffer();
                    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                        throw new IOException("safetensors needs little-endian data; this machine is big-endian");
                    }
                    writeFully(ch, data);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            fsyncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /** Makes the rename itself durable. Not every file system lets a directory be opened; then skip. */
    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort: the data itself was already forced
        }
    }

    private static StringBuilder appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"');
    }
}
