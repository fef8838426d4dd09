package lstmlm.interop;

import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.SafetensorsFile;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A PyTorch state dict read from a file: its floating-point tensors by name, in the order of the file,
 * as float32 in row-major order. Two files are read: {@code torch.save(model.state_dict(), path)} (the
 * zip format of PyTorch 1.6 and later: a {@link Pickle} {@code data.pkl} plus one raw record per
 * storage) and a state dict saved as safetensors ({@code safetensors.torch.save_file}; F32 and BF16).
 * Nothing in the file is run: see {@link Pickle}.
 */
public final class StateDict {
    /**
     * One tensor: its shape, its values as float32, and which storage it views (the storage's key and
     * the view's offset; null for safetensors, whose tensors never share) so that tied weights are seen.
     */
    public record Tensor(String name, long[] shape, float[] values, String storage) {
        public long rows() {
            return shape[0];
        }

        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape);
        }
    }

    /** The record a .pt file holds its pickle in, under the archive's folder. */
    static final String PICKLE = "data.pkl";
    /** Bigger than any state dict's pickle (the tensors are records of their own): beyond it, a bad file. */
    private static final long MAX_PICKLE = 64L << 20;

    private final Map<String, Tensor> tensors;
    private final String source;

    private StateDict(Map<String, Tensor> tensors, String source) {
        this.tensors = tensors;
        this.source = source;
    }

    /** The tensors by name, in file order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** What the tensors were read from, for messages. */
    public String source() {
        return source;
    }

    /** Reads a .pt (zip) or .safetensors state dict, telling the two apart by their first bytes. */
    public static StateDict read(Path file) {
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (NoSuchFileException e) {
            throw new TorchFileException("PyTorch file not found: " + file + ". Pass the path of a state dict saved with torch.save.");
        } catch (IOException e) {
            throw new TorchFileException("Cannot read " + file + ": " + e.getMessage(), e);
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return readZip(file);
        if (n >= 9 && head[8] == '{') return readSafetensors(file);
        if (n >= 2 && (head[0] & 0xff) == 0x80) {
            throw new TorchFileException(file + " is a pickle without the zip around it: saved by PyTorch before 1.6 or with"
                    + " _use_new_zipfile_serialization=False, a format that needs running its pickle to read. Re-save it"
                    + " with torch.save(state_dict, path) in PyTorch 1.6 or later.");
        }
        throw new TorchFileException(file + " is neither a PyTorch zip file (torch.save) nor safetensors: it starts with bytes "
                + java.util.HexFormat.ofDelimiter(" ").formatHex(head, 0, Math.min(n, 8)) + ".");
    }

    private static StateDict readZip(Path file) {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String prefix = null;
            for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                String name = e.getName();
                if (name.equals(PICKLE) || name.endsWith("/" + PICKLE)) {
                    String p = name.substring(0, name.length() - PICKLE.length());
                    if (prefix != null) throw new TorchFileException(file + " holds two pickles (" + TorchFileException.shown(prefix + PICKLE) + " and " + TorchFileException.shown(name) + "); a state dict has one.");
                    prefix = p;
                }
            }
            if (prefix == null) {
                throw new TorchFileException(file + " is a zip file without a data.pkl record: not a file torch.save wrote"
                        + " (a TorchScript archive holds code, which this importer does not read; save model.state_dict()).");
            }
            String folder = prefix;
            byte[] pickle = record(zip, file, zip.getEntry(folder + PICKLE), MAX_PICKLE);
            return fromPickle(pickle, file + " (" + folder + PICKLE + ")", key -> {
                ZipEntry e = zip.getEntry(folder + "data/" + key);
                if (e == null) throw new TorchFileException(file + " has no record " + TorchFileException.shown(folder + "data/" + key) + " for a storage its pickle names; the file is incomplete.");
                try {
                    return MemorySegment.ofArray(record(zip, file, e, Integer.MAX_VALUE - 8));
                } catch (IOException io) {
                    throw new TorchFileException("Cannot read " + file + ": " + io.getMessage(), io);
                }
            });
        } catch (ZipException e) {
            throw new TorchFileException(file + " is not a readable zip file (" + e.getMessage() + "); it is damaged or truncated.", e);
        } catch (IOException e) {
            throw new TorchFileException("Cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** A record's bytes: stored uncompressed, as torch.save writes them, so its size is bounded by the file's. */
    private static byte[] record(ZipFile zip, Path file, ZipEntry e, long max) throws IOException {
        if (e.getMethod() != ZipEntry.STORED) {
            throw new TorchFileException(file + ": record " + TorchFileException.shown(e.getName()) + " is compressed; torch.save stores every record"
                    + " uncompressed. Re-save the state dict with torch.save instead of re-zipping it.");
        }
        long size = e.getSize();
        if (size < 0 || size > max) throw new TorchFileException(file + ": record " + TorchFileException.shown(e.getName()) + " claims " + size + " bytes, more than it can hold.");
        try (InputStream in = zip.getInputStream(e)) {
            byte[] bytes = in.readNBytes((int) size);
            if (bytes.length != size) throw new TorchFileException(file + ": record " + TorchFileException.shown(e.getName()) + " is truncated.");
            return bytes;
        }
    }

    /**
     * The state dict a pickle describes, its storages' bytes fetched by key (each fetched once).
     * Package-private for the fuzz target, which gives any pickle with made-up storages.
     */
    static StateDict fromPickle(byte[] pickle, String source, Function<String, MemorySegment> storages) {
        Object root = Pickle.read(pickle, source);
        Map<?, ?> dict = stateDict(root, source);
        Map<String, MemorySegment> fetched = new LinkedHashMap<>();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : dict.entrySet()) {
            if (!(e.getKey() instanceof String name)) throw new TorchFileException(source + ": a state dict key is not a string: " + TorchFileException.shown(e.getKey()));
            if (!(e.getValue() instanceof Pickle.TensorRef t)) {
                throw new TorchFileException(source + ": '" + TorchFileException.shown(name) + "' is not a tensor; a state dict maps names to tensors.");
            }
            Pickle.StorageRef s = t.storage();
            if (!s.dtype().floating()) {
                throw new TorchFileException(source + ": tensor '" + TorchFileException.shown(name) + "' holds " + s.dtype().storage
                        + " values; the model's weights must be floating point.");
            }
            MemorySegment bytes = fetched.computeIfAbsent(s.key(), storages);
            if (s.elements() > bytes.byteSize() / s.dtype().bytes) {
                throw new TorchFileException(source + ": storage " + TorchFileException.shown(s.key()) + " claims " + s.elements() + " elements of "
                        + s.dtype().bytes + " bytes but its record has " + bytes.byteSize() + " bytes; the file is truncated.");
            }
            out.put(name, view(source, name, t, bytes));
        }
        return new StateDict(out, source);
    }

    /** The dict that holds the tensors: the root, or the one dict of tensors inside a training checkpoint's dict. */
    private static Map<?, ?> stateDict(Object root, String source) {
        if (!(root instanceof Map<?, ?> dict)) throw new TorchFileException(source + ": the pickle holds " + root.getClass().getSimpleName() + ", not a dict of tensors.");
        if (dict.values().stream().anyMatch(v -> v instanceof Pickle.TensorRef)) return dict;
        List<?> inner = dict.values().stream().filter(v -> v instanceof Map<?, ?> m
                && m.values().stream().anyMatch(x -> x instanceof Pickle.TensorRef)).toList();
        if (inner.size() == 1) return (Map<?, ?>) inner.getFirst();
        throw new TorchFileException(source + ": the dict (keys " + TorchFileException.preview(dict.keySet()) + ") holds no tensors"
                + (inner.isEmpty() ? "" : " directly and several dicts of them") + "; save model.state_dict() itself.");
    }


    /** Copies a (possibly strided) view of a storage into a row-major float array, bounds checked first. */
    private static Tensor view(String source, String name, Pickle.TensorRef t, MemorySegment bytes) {
        long elements = 1, last = t.offset();
        try {
            for (int d = 0; d < t.size().length; d++) {
                elements = Math.multiplyExact(elements, t.size()[d]);
                if (t.size()[d] > 0) last = Math.addExact(last, Math.multiplyExact(t.size()[d] - 1, t.stride()[d]));
            }
        } catch (ArithmeticException e) {
            elements = Long.MAX_VALUE;
        }
        if (elements > Integer.MAX_VALUE - 8) {
            throw new TorchFileException(source + ": tensor '" + TorchFileException.shown(name) + "' has shape " + Arrays.toString(t.size()) + ", more than 2^31 elements.");
        }
        long storageElements = t.storage().elements();
        if (elements > 0 && last >= storageElements) {
            throw new TorchFileException(source + ": tensor '" + TorchFileException.shown(name) + "' (offset " + t.offset() + ", shape " + Arrays.toString(t.size())
                    + ", stride " + Arrays.toString(t.stride()) + ") reaches past its storage of " + storageElements + " elements.");
        }
        float[] values = new float[(int) elements];
        int rank = t.size().length;
        long[] index = new long[rank];
        TorchDType type = t.storage().dtype();
        for (int i = 0; i < values.length; i++) {
            long at = t.offset();
            for (int d = 0; d < rank; d++) at += index[d] * t.stride()[d];
            values[i] = type.read(bytes, at);
            for (int d = rank - 1; d >= 0; d--) { // next row-major index
                if (++index[d] < t.size()[d]) break;
                index[d] = 0;
            }
        }
        return new Tensor(name, t.size().clone(), values, t.storage().key() + "@" + t.offset() + Arrays.toString(t.stride()));
    }

    private static StateDict readSafetensors(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (SafetensorsFile.Tensor t : f.tensors().values()) {
                if (t.elements() > Integer.MAX_VALUE - 8) {
                    throw new TorchFileException(file + ": tensor '" + t.name() + "' has more than 2^31 elements.");
                }
                MemorySegment data = f.data(t.name());
                TorchDType type = switch (t.dtype()) {
                    case F32 -> TorchDType.FLOAT;
                    case BF16 -> TorchDType.BFLOAT16;
                    case I8 -> throw new TorchFileException(file + ": tensor '" + t.name() + "' holds int8 values; the model's weights must be floating point.");
                };
                float[] values = new float[(int) t.elements()];
                for (int i = 0; i < values.length; i++) values[i] = type.read(data, i);
                out.put(t.name(), new Tensor(t.name(), t.shape().clone(), values, null));
            }
            return new StateDict(out, file.toString());
        } catch (ModelFileException e) {
            throw new TorchFileException(e.getMessage(), e);
        }
    }
}
