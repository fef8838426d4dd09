package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.Quantizer;
import lstmlm.modelfile.WeightFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Write a compact copy of a model for inference: the weight matrices in bf16 or int8 (symmetric, "
                + "one scale per output unit), biases in fp32, the same config and vocabulary, no training state.",
                "Model.load, generate, score, eval and bench --latency read it like any model.",
                "--format fp32 writes a clean fp32 copy: no training state, and the current file format (header "
                        + "checksum included), which brings a file from an older version up to date."})
final class QuantizeCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "IN", description = "An fp32 model file written by train.")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "OUT", description = "The file to write (.safetensors).")
    Path out;

    @Option(names = "--format", required = true, paramLabel = "bf16|int8|fp32", description = "The weights' format.")
    String format;

    @Override
    public Integer call() {
        WeightFormat f = Options.choice("--format", WeightFormat::parse, format);
        if (out.toAbsolutePath().equals(model.toAbsolutePath())) {
            throw new UserException("--out must be another file than --model (" + model + ")");
        }
        try (ModelFile in = ModelFile.open(model)) {
            Quantizer.write(in, out, f);
            System.out.printf(Locale.ROOT, "Wrote %s: %s weights, %.2f MB (%.3f x the %.2f MB of %s)%n", out, f.key(),
                    Files.size(out) / 1e6, (double) Files.size(out) / Files.size(model), Files.size(model) / 1e6, model);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write " + out + " (" + e + "). Check the folder exists and is writable.", e);
        }
        return 0;
    }
}
