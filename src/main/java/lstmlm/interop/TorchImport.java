package lstmlm.interop;

import lstmlm.data.Vocabulary;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;
import lstmlm.modelfile.SafetensorsWriter;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;


/**
 * Turns the state dict of PyTorch's word_language_model {@code RNNModel} (LSTM) into an ordinary model
 * file of this engine: the weights in its layout ({@link RnnModel}), the vocabulary in the example's
 * id order, and a config of this engine's keys ({@code small}'s training settings, the file's sizes,
 * the dropout given) so that eval, score, generate, quantize, the library and the server take it, and
 * training can go on from it.
 */
public final class TorchImport {
    /** The config an import writes, for fine-tuning from it; the name says where it came from. */
    public static final String CONFIG_NAME = "pytorch-import";

    private TorchImport() {}

    /** What an import wrote. */
    public record Result(ModelShape shape, int biasesKept) {
    }

    /**
     * Reads {@code state}, checks it against {@code vocabulary} and writes {@code out} atomically.
     *
     * @param vocabularyFrom where the vocabulary came from, recorded in the file
     * @param dropout        the dropout the model was trained with (the example's --dropout), for fine-tuning
     */
    public static Result write(Path state, Vocabulary vocabulary, String vocabularyFrom, double dropout, Path out) throws IOException {
        if (!(dropout >= 0 && dropout < 1)) throw new TorchFileException("--dropout " + dropout + " is not in [0, 1).");
        RnnModel.Imported m = RnnModel.toEngine(StateDict.read(state));
        ModelShape shape = m.shape();
        if (vocabulary.size() != shape.vocab()) {
            throw new TorchFileException(state + " has " + shape.vocab() + " words (encoder.weight's rows) but the vocabulary from "
                    + vocabularyFrom + " has " + vocabulary.size() + ". Give the corpus folder or word list the model was trained on.");
        }
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("vocab_size", Integer.toString(shape.vocab()));
        keys.put("hidden_size", Integer.toString(shape.hidden()));
        keys.put("num_layers", Integer.toString(shape.layers()));
        keys.put("tie_weights", Boolean.toString(shape.tied()));
        keys.put("keep_prob", Double.toString(1 - dropout));
        keys.put("precision", "fp32");
        Config config = Config.load("small", keys).renamed(CONFIG_NAME);
        List<SafetensorsWriter.Entry> kept = new ArrayList<>();
        for (var e : m.sourceBiases().entrySet()) {
            kept.add(SafetensorsWriter.Entry.ofFloats(RnnModel.SOURCE_BIASES + e.getKey(), new long[]{e.getValue().length},
                    e.getValue()));
        }
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("imported.from", "PyTorch word_language_model RNNModel (LSTM) state dict " + state.getFileName()
                + " (sha256 " + sha256(state) + ")");
        extra.put("imported.vocabulary", vocabularyFrom);
        extra.put("imported.dropout", String.format(Locale.ROOT, "%s (config keep_prob %s)", dropout, 1 - dropout));
        Checkpoint.writeWeights(out, config, vocabulary, new ParameterLayout(shape), SafetensorsWriter.littleEndian(m.params()), kept, extra);
        return new Result(shape, kept.size());
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
