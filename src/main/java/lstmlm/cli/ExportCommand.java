package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.interop.TorchExport;
import lstmlm.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import java.nio.file.Path;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write a model for another framework.",
                "--to pytorch: the state dict of PyTorch's word_language_model RNNModel('LSTM', ...), which"
                        + " torch.load(PATH, weights_only=True) reads, the vocabulary (NAME.vocab.txt, one word per line"
                        + " in id order) and RNNModel's arguments (NAME.json) beside it."})
final class ExportCommand implements Callable<Integer> {

    @Option(names = "--to", required = true, paramLabel = "pytorch", description = "The framework: pytorch.")
    String to;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A model file of this engine (fp32, bf16 or int8).")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "STATE.pt", description = "The state dict to write.")
    Path out;

    @Override
    public Integer call() {
        if (!to.equals("pytorch")) throw new UserException("--to " + to + " is not known; use --to pytorch.");
        try (Checkpoint c = Checkpoint.load(model)) {
            Main.noteUnverifiedHeader(model, c.weights().headerVerified());
            TorchExport.Files files = TorchExport.write(c.weights(), 1 - c.config().keepProb(), out);
            System.out.printf("Wrote %s, %s and %s%n", files.stateDict(), files.vocabulary(), files.arguments());
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write " + out + " (" + e + "). Check the folder exists and is writable.", e);
        }
        return 0;
    }
}
