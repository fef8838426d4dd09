package lstmlm.modelfile;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A safetensors file opened for reading: the header parsed and checked, the data memory-mapped
 * read-only (so several readers share the pages the OS keeps). F32, BF16 and I8 tensors are
 * accepted ({@link DType}): what the engine computes in and its compact inference formats. The
 * format does not promise alignment of the data (our writer pads the header and puts wider types
 * first): {@link #isAligned()} says whether every tensor can be read in place; otherwise copy the
 * bytes out.
 *
 * <p>Every problem is a {@link ModelFileException} naming the file and what is wrong with it:
 * a missing file, a header that is not safetensors, a truncated file, a tensor outside the data.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers beyond this are not a model of ours (the format's own readers cap at 100 MB). */
    private static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor's entry: its shape and where its bytes lie within the data section. */
    public record Tensor(String name, DType dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path file;
    private final byte[] prefix;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, byte[] prefix, Arena arena, MemorySegment data, Map<String, Tensor> tensors,
                            Map<String, String> metadata) {
        this.file = file;
        this.prefix = prefix;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(file, "it is " + size + " bytes long, shorter than the 8-byte header length");
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = all.get(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen <= 1 || headerLen > MAX_HEADER) {
                throw bad(file, "the header length field reads " + headerLen + ": not a safetensors file");
            }
            if (8 + headerLen > size) {
                throw bad(file, "truncated: the header claims " + headerLen + " bytes but the file has only "
                        + (size - 8) + " after the length field");
            }
            byte[] prefix = all.asSlice(0, 8 + headerLen).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            String headerText = new String(prefix, 8, (int) headerLen, StandardCharsets.UTF_8);
            JsonNode root;
            try {
                root = JSON.readTree(headerText);
            } catch (JacksonException e) {
                throw bad(file, "the header is not valid JSON (" + e.getOriginalMessage() + ")");
            }
            if (root == null || !root.isObject()) throw bad(file, "the header is not a JSON object");
            MemorySegment data = all.asSlice(8 + headerLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (var it = root.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    if (!e.getValue().isObject()) throw bad(file, "__metadata__ is not an object");
                    for (var m = e.getValue().properties().iterator(); m.hasNext(); ) {
                        var kv = m.next();
                        if (!kv.getValue().isTextual()) {
                            throw bad(file, "metadata value '" + kv.getKey() + "' is not a string");
                        }
                        metadata.put(kv.getKey(), kv.getValue().asText());
                    }
                } else {
                    tensors.put(e.getKey(), parseTensor(file, e.getKey(), e.getValue(), data.byteSize()));
                }
            }
            return new SafetensorsFile(file, prefix, arena, data, Collections.unmodifiableMap(tensors),
                    Collections.unmodifiableMap(metadata));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFileException("Model file not found: " + file + ". Pass the path of a .safetensors file"
                    + " written by `lstm train --save-path DIR`.", e);
        } catch (IOException e) {
            arena.close();
            throw new ModelFileException("Cannot read model file " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Tensor parseTensor(Path file, String name, JsonNode node, long dataBytes) {
        if (!node.isObject()) throw bad(file, "tensor '" + name + "' is not an object");
        JsonNode dtype = node.get("dtype"), shape = node.get("shape"), offsets = node.get("data_offsets");
        if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray()
                || offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw bad(file, "tensor '" + name + "' lacks dtype, shape or data_offsets");
        }
        DType type = DType.of(dtype.asText());
        if (type == null) {
            throw bad(file, "tensor '" + name + "' has dtype " + dtype.asText() + "; this engine reads F32, BF16 and I8");
        }
        // every number is checked as an integer that fits before it is used, and every product with
        // exact arithmetic: a header is outside input and may claim any size
        long[] dims = new long[shape.size()];
        long elements = 1;
        for (int i = 0; i < dims.length; i++) {
            JsonNode d = shape.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw bad(file, "tensor '" + name + "' has a bad shape " + shape + ": each size must be an integer >= 0");
            }
            dims[i] = d.asLong();
        }
        long bytes;
        try {
            for (long d : dims) elements = Math.multiplyExact(elements, d);
            bytes = Math.multiplyExact(elements, (long) type.bytes);
        } catch (ArithmeticException e) {
            throw bad(file, "tensor '" + name + "' has shape " + shape + ", whose size in bytes overflows 64 bits");
        }
        JsonNode first = offsets.get(0), last = offsets.get(1);
        if (!first.isIntegralNumber() || !first.canConvertToLong() || !last.isIntegralNumber() || !last.canConvertToLong()) {
            throw bad(file, "tensor '" + name + "' has data_offsets " + offsets + " that are not two 64-bit integers");
        }
        long begin = first.asLong(), end = last.asLong();
        if (begin < 0 || end < begin || end - begin != bytes) {
            throw bad(file, "tensor '" + name + "' has data_offsets " + offsets + " that do not hold shape " + shape);
        }
        if (end > dataBytes) {
            throw bad(file, "truncated: tensor '" + name + "' ends at byte " + end + " of the data but the file holds "
                    + dataBytes + " bytes of data");
        }
        return new Tensor(name, type, dims, begin, end);
    }

    private static ModelFileException bad(Path file, String what) {
        return new ModelFileException("Bad model file " + file + ": " + what + ".");
    }

    public Path path() {
        return file;
    }

    /**
     * Checks the header against its {@code header.sha256} ({@link HeaderChecksum}) when it has one.
     *
     * @return true when checked, false when the header has no such key
     * @throws ModelFileException when the checksum does not match: some byte of the header is damaged
     */
    public boolean verifyHeaderChecksum() {
        int at = HeaderChecksum.find(prefix);
        String stored = metadata.get(HeaderChecksum.KEY);
        if (at < 0) {
            if (stored != null) throw bad(file, "its " + HeaderChecksum.KEY + " is not written the way its checksum rule needs");
            return false;
        }
        String written = HeaderChecksum.stored(prefix, at), actual = HeaderChecksum.compute(prefix, at);
        if (!written.equals(stored) || !actual.equals(written)) {
            throw bad(file, "header checksum mismatch: the length field and header hash to SHA-256 " + actual + " but "
                    + HeaderChecksum.KEY + " says " + (stored == null ? written : stored) + "; its metadata, config or"
                    + " vocabulary is damaged (use an older checkpoint)");
        }
        return true;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The named tensor's entry, or an error naming the file and the missing tensor. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw bad(file, "it has no tensor '" + name + "' (it has " + tensors.keySet() + ")");
        return t;
    }

    /** The named tensor's bytes: a read-only view into the mapped file, valid until close. */
    public MemorySegment data(String name) {
        Tensor t = tensor(name);
        return data.asSlice(t.begin(), t.end() - t.begin()).asReadOnly();
    }

    /** Whether every tensor starts on a multiple of its element size in memory, so it can be read in place. */
    public boolean isAligned() {
        if (data.address() % Float.BYTES != 0) return false;
        for (Tensor t : tensors.values()) if (t.begin() % t.dtype().bytes != 0) return false;
        return true;
    }

    /** All tensor bytes, in file order. */
    public MemorySegment allData() {
        return data.asReadOnly();
    }

    @Override
    public void close() {
        arena.close();
    }
}
