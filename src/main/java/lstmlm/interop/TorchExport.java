package lstmlm.interop;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.modelfile.AtomicFile;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelShape;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * Writes a model of this engine as PyTorch's word_language_model would have it: the state dict of its
 * {@code RNNModel('LSTM', ntoken, ninp, nhid, nlayers, dropout, tie_weights)} ({@link RnnModel},
 * {@link TorchWriter}), the vocabulary one word per line in id order, and the constructor's arguments
 * in a JSON file beside them. bf16 and int8 files are written as the float32 values they stand for.
 */
public final class TorchExport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TorchExport() {}

    /** The three files an export writes. */
    public record Files(Path stateDict, Path vocabulary, Path arguments) {
        /** {@code model.pt} gives {@code model.vocab.txt} and {@code model.json} beside it. */
        public static Files beside(Path stateDict) {
            String name = stateDict.getFileName().toString();
            String stem = name.endsWith(".pt") || name.endsWith(".pth") ? name.substring(0, name.lastIndexOf('.')) : name;
            return new Files(stateDict, stateDict.resolveSibling(stem + ".vocab.txt"), stateDict.resolveSibling(stem + ".json"));
        }
    }

    /** Writes the three files for {@code out}; {@code dropout} goes to the JSON (1 - the config's keep_prob). */
    public static Files write(ModelFile model, double dropout, Path out) throws IOException {
        ModelShape shape = model.shape();
        Map<String, float[]> biases = new HashMap<>();
        for (var t : model.safetensors().tensors().values()) {
            if (t.name().startsWith(RnnModel.SOURCE_BIASES)) {
                biases.put(t.name().substring(RnnModel.SOURCE_BIASES.length()), model.tensor(t.name()).toArray(JAVA_FLOAT_UNALIGNED));
            }
        }
        Map<String, float[]> tensors;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(model.layout().size * Float.BYTES, 64);
            model.copyInto(params);
            tensors = RnnModel.toPyTorch(shape, params, biases);
        }
        int v = shape.vocab(), h = shape.hidden();
        List<TorchWriter.Tensor> list = new ArrayList<>();
        tensors.forEach((name, values) -> list.add(new TorchWriter.Tensor(name, shapeOf(name, values.length, v, h), values)));
        Files files = Files.beside(out);
        TorchWriter.write(files.stateDict(), list);

        String words = String.join("\n", model.vocabulary().words()) + "\n";
        AtomicFile.write(files.vocabulary(), ch -> AtomicFile.writeFully(ch, ByteBuffer.wrap(words.getBytes(StandardCharsets.UTF_8))));
        ObjectNode args = JSON.createObjectNode();
        args.put("model", "word_language_model RNNModel");
        args.put("rnn_type", "LSTM");
        args.put("ntoken", v);
        args.put("ninp", h);
        args.put("nhid", h);
        args.put("nlayers", shape.layers());
        args.put("dropout", new java.math.BigDecimal(dropout).round(new java.math.MathContext(9)).doubleValue()); // 1 - 0.8 reads 0.2
        args.put("tie_weights", shape.tied());
        args.put("vocabulary", files.vocabulary().getFileName().toString());
        args.put("exported_from", model.path().getFileName() + " (tensors.sha256 " + model.metadata().get(ModelFile.CHECKSUM_KEY) + ")");
        byte[] json = (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(args) + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(files.arguments(), ch -> AtomicFile.writeFully(ch, ByteBuffer.wrap(json)));
        return files;
    }

    /** The PyTorch shape of each RNNModel tensor. */
    private static long[] shapeOf(String name, int elements, int v, int h) {
        if (name.equals("encoder.weight") || name.equals("decoder.weight")) return new long[]{v, h};
        if (name.startsWith("rnn.weight_")) return new long[]{4L * h, h};
        return new long[]{elements};
    }
}
