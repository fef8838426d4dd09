package lstmlm.modelfile;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.Int8;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a compact copy of an fp32 model file for inference ({@link WeightFormat#BF16} or
 * {@link WeightFormat#INT8}): the same config, vocabulary and checksum rule, the weight matrices in
 * the new format (int8 with their scales), biases in float32, no training state. With
 * {@link WeightFormat#FP32} it writes a clean fp32 copy: no training state, and the current format
 * with its header checksum (the way to bring a file written before it up to date). Any safetensors
 * reader can read it: BF16, I8 and F32 are standard dtypes.
 */
public final class Quantizer {
    private Quantizer() {}

    /** Metadata a compact file keeps: what describes the model, not where a training run stood. */
    private static boolean kept(String key) {
        return key.startsWith("config.") || key.equals("vocabulary") || key.equals("vocabulary.size")
                || key.equals("softmax.weight") || key.equals("test_perplexity") || key.equals("valid_perplexity");
    }

    /** Writes {@code in} as {@code out} in {@code format} (atomically, like every file the engine writes). */
    public static void write(ModelFile in, Path out, WeightFormat format) throws IOException {
        if (in.format() != WeightFormat.FP32) {
            throw new ModelFileException("Cannot quantize " + in.path() + ": it is already " + in.format().key()
                    + ". Quantize from the fp32 file training wrote.");
        }
        List<SafetensorsWriter.Entry> wide = new ArrayList<>(), narrow = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (ParameterLayout.Tensor t : in.layout().tensors()) {
                MemorySegment src = in.tensor(t.name());
                if (!WeightFormat.isMatrix(t.name()) || format == WeightFormat.FP32) {
                    wide.add(new SafetensorsWriter.Entry(t.name(), DType.F32, t.dims(), src));
                } else if (format == WeightFormat.BF16) {
                    MemorySegment dst = arena.allocate(t.size() * 2, 64);
                    Bf16.fromFloats(src, 0, dst, 0, t.size());
                    narrow.add(new SafetensorsWriter.Entry(t.name(), DType.BF16, t.dims(), dst));
                } else {
                    boolean perRow = WeightFormat.scalesPerRow(t.name());
                    long outputs = perRow ? t.dims()[0] : t.dims()[1];
                    MemorySegment q = arena.allocate(t.size(), 64), scales = arena.allocate(outputs * 4, 64);
                    Int8.quantize(src, 0, t.dims()[0], t.dims()[1], perRow, q, scales);
                    narrow.add(new SafetensorsWriter.Entry(t.name(), DType.I8, t.dims(), q));
                    wide.add(new SafetensorsWriter.Entry(t.name() + WeightFormat.SCALE_SUFFIX, DType.F32, new long[]{outputs}, scales));
                }
            }
            List<SafetensorsWriter.Entry> tensors = new ArrayList<>(wide);
            tensors.addAll(narrow); // wider types first: every tensor starts on a multiple of its element size
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", ModelFile.FORMAT);
            in.metadata().forEach((k, v) -> {
                if (kept(k)) meta.put(k, v);
            });
            meta.put(WeightFormat.METADATA_KEY, format.key());
            meta.put("quantized.from", in.path().getFileName() + " (tensors.sha256 " + in.metadata().get(ModelFile.CHECKSUM_KEY) + ")");
            if (format == WeightFormat.INT8) {
                meta.put("quantized.scales", "symmetric, w = scale * q, q in [-127, 127]: one float32 scale per output"
                        + " unit, NAME.scale: per column of lstm.L.weight and softmax.weight, per row of embedding");
            }
            SafetensorsWriter.write(out, tensors, meta);
        }
    }
}
