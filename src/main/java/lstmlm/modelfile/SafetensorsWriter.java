package lstmlm.modelfile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Writes tensors as a safetensors file: 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, a {@code __metadata__} map of strings, then the raw
 * little-endian data, tensor after tensor with no gaps.
 *
 * <p>Every file gets two checksums in its metadata, which together cover every byte: {@code
 * header.sha256} ({@link HeaderChecksum}: the length field and the header) and {@code
 * tensors.sha256} (every byte after the header). A damaged vocabulary word or config value is
 * refused on load like a damaged weight.
 *
 * <p>The write is atomic: a temp file in the same folder, fsync, rename over the target, fsync of
 * the folder. A crash at any point leaves either the old file or the new one, never a mix; a
 * failed write (disk full, read-only folder) leaves the old file and removes the temp file.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Metadata key of the data checksum: SHA-256 (hex) of every byte after the header. */
    public static final String TENSORS_CHECKSUM_KEY = "tensors.sha256";
    /** Metadata key of the header checksum ({@link HeaderChecksum}). */
    public static final String HEADER_CHECKSUM_KEY = HeaderChecksum.KEY;

    private SafetensorsWriter() {}

    /** One tensor to write: its name, element type, shape and bytes (shape product × element size of them). */
    public record Entry(String name, DType dtype, long[] shape, MemorySegment bytes) {
        public Entry {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            if (bytes.byteSize() != n * dtype.bytes) {
                throw new IllegalArgumentException("tensor " + name + " has " + bytes.byteSize()
                        + " bytes, shape needs " + n * dtype.bytes);
            }
        }

        /** A float32 tensor. */
        public Entry(String name, long[] shape, MemorySegment bytes) {
            this(name, DType.F32, shape, bytes);
        }

        /**
         * A float32 tensor from a heap array, copied into little-endian bytes (a float[]-backed segment
         * cannot become the ByteBuffer the writer needs).
         */
        public static Entry ofFloats(String name, long[] shape, float[] values) {
            return new Entry(name, shape, littleEndian(values));
        }
    }

    /** Floats as a byte-backed little-endian segment, which the writer can turn into a ByteBuffer. */
    public static MemorySegment littleEndian(float[] values) {
        return MemorySegment.ofArray(littleEndianBytes(values));
    }

    /** Floats as little-endian bytes, the byte order of every file this engine writes. */
    public static byte[] littleEndianBytes(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b.array();
    }

    /** The parameter slab's tensors in {@link ParameterLayout} order, as views (no copy). */
    public static List<Entry> entries(ParameterLayout layout, MemorySegment params) {
        List<Entry> list = new ArrayList<>();
        for (ParameterLayout.Tensor t : layout.tensors()) {
            list.add(new Entry(t.name(), t.dims(), params.asSlice(t.offset() * Float.BYTES, t.size() * Float.BYTES)));
        }
        return list;
    }

    /**
     * SHA-256 (lower-case hex) of the data section {@link #write} produces for these tensors: their
     * bytes in order. Computed before the write because the header, which comes first, holds it.
     */
    static String sha256(List<Entry> tensors) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        for (Entry e : tensors) digest.update(e.bytes().asByteBuffer());
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * Writes the tensors in the order given; give wider element types first (F32, then BF16, then I8) so
     * that every tensor starts on a multiple of its element size and can be read in place. The two
     * checksums are added to {@code metadata}, which must not have their keys.
     */
    public static void write(Path file, List<Entry> tensors, Map<String, String> metadata) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IOException("safetensors needs little-endian data; this machine is big-endian");
        }
        if (metadata.containsKey(HEADER_CHECKSUM_KEY) || metadata.containsKey(TENSORS_CHECKSUM_KEY)) {
            throw new IllegalArgumentException("the writer computes " + HEADER_CHECKSUM_KEY + " and " + TENSORS_CHECKSUM_KEY);
        }
        ObjectNode root = JSON.createObjectNode();
        ObjectNode meta = root.putObject("__metadata__");
        meta.put(HEADER_CHECKSUM_KEY, HeaderChecksum.PLACEHOLDER); // first, so a reader finds it at once
        metadata.forEach(meta::put);
        meta.put(TENSORS_CHECKSUM_KEY, sha256(tensors));
        long dataOffset = 0;
        for (Entry t : tensors) {
            ObjectNode node = root.putObject(t.name());
            node.put("dtype", t.dtype().name());
            ArrayNode shape = node.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            long bytes = t.bytes().byteSize();
            node.putArray("data_offsets").add(dataOffset).add(dataOffset + bytes);
            dataOffset += bytes;
        }
        StringBuilder json = new StringBuilder(JSON.writeValueAsString(root));
        // pad with spaces (allowed JSON whitespace) so the data starts 8-byte aligned, as the format recommends
        int headerBytes = json.toString().getBytes(StandardCharsets.UTF_8).length;
        json.append(" ".repeat((8 - headerBytes % 8) % 8));
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        byte[] prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).put(header).array();
        int valueAt = HeaderChecksum.find(prefix);
        byte[] checksum = HeaderChecksum.compute(prefix, valueAt).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(checksum, 0, prefix, valueAt, checksum.length);

        java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
        AtomicFile.write(file, ch -> {
            AtomicFile.writeFully(ch, ByteBuffer.wrap(prefix));
            for (Entry t : tensors) AtomicFile.writeFully(ch, t.bytes().asByteBuffer());
        });
    }
}
