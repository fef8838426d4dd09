package lstmlm.cli;

import lstmlm.data.Corpus;
import lstmlm.data.CorpusFiles;
import lstmlm.data.DataException;
import lstmlm.data.Vocabulary;
import lstmlm.errors.UserException;
import lstmlm.interop.TorchImport;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "import", mixinStandardHelpOptions = true,
        description = {"Turn a model trained elsewhere into a model file of this engine.",
                "--from pytorch: the state dict of PyTorch's word_language_model RNNModel with an LSTM, saved with"
                        + " torch.save(model.state_dict(), PATH) (PyTorch >= 1.6) or as safetensors. Its pickle is read,"
                        + " never run: only tensors in dicts are accepted.",
                "The vocabulary is the example's data.Dictionary, rebuilt from the corpus (--corpus), or one word per"
                        + " line in id order (--vocab)."})
final class ImportCommand implements Callable<Integer> {

    @Option(names = "--from", required = true, paramLabel = "pytorch", description = "Where the model comes from: pytorch.")
    String from;

    @Parameters(index = "0", paramLabel = "STATE", description = "The state dict: a .pt file from torch.save, or .safetensors.")
    Path state;

    @ArgGroup(exclusive = true, multiplicity = "1")
    VocabularySource vocabulary;

    static final class VocabularySource {
        @Option(names = "--corpus", paramLabel = "DIR",
                description = "The corpus folder the model was trained on (train.txt, valid.txt, test.txt, or ptb.*.txt):"
                        + " words in order of first appearance, train then valid then test, <eos> ending each line.")
        Path corpus;

        @Option(names = "--vocab", paramLabel = "FILE", description = "The vocabulary, one word per line in id order.")
        Path file;
    }

    @Option(names = "--out", required = true, paramLabel = "MODEL", description = "The model file to write (.safetensors).")
    Path out;

    @Option(names = "--dropout", defaultValue = "0.2", paramLabel = "P",
            description = "The dropout the model was trained with (the example's --dropout), kept for fine-tuning. Default: ${DEFAULT-VALUE}.")
    double dropout;

    @Override
    public Integer call() {
        if (!from.equals("pytorch")) throw new UserException("--from " + from + " is not known; use --from pytorch.");
        Vocabulary words;
        String origin;
        if (vocabulary.corpus != null) {
            CorpusFiles files = CorpusFiles.in(vocabulary.corpus);
            words = Corpus.inOrderOfAppearance(List.of(files.train(), files.valid(), files.test()));
            origin = "corpus " + vocabulary.corpus.toAbsolutePath().normalize()
                    + " in order of first appearance (train, valid, test; <eos> after each line), as data.Dictionary builds it";
        } else {
            words = readWordList(vocabulary.file);
            origin = "word list " + vocabulary.file.toAbsolutePath().normalize();
        }
        try {
            TorchImport.Result r = TorchImport.write(state, words, origin, dropout, out);
            System.out.printf("Wrote %s: %d words, %d x %d LSTM%s, from %s%n", out, r.shape().vocab(), r.shape().layers(),
                    r.shape().hidden(), r.shape().tied() ? ", tied" : "", state);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write " + out + " (" + e + "). Check the folder exists and is writable.", e);
        }
        return 0;
    }

    private static Vocabulary readWordList(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UserException("Vocabulary file not found: " + file + ". Pass a file with one word per line.");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file + " (" + e + "): it must be UTF-8 text, one word per line.", e);
        }
        try {
            return Vocabulary.of(lines.stream().map(String::strip).toList());
        } catch (DataException e) {
            throw new UserException(file + ": " + e.getMessage());
        }
    }
}
