package lstmlm.cli;

import lstmlm.data.Corpus;
import lstmlm.data.CorpusFiles;
import lstmlm.data.PtbDownloader;
import lstmlm.errors.UserException;
import lstmlm.model.DropoutPlan;
import lstmlm.model.Engine;
import lstmlm.model.Precision;
import lstmlm.model.ProductPolicy;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;
import lstmlm.train.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Print a trained model's perplexity on a PTB split (test: batch 1, 1 step, as training's final test).")
final class EvalCommand implements Callable<Integer> {

    enum Split { valid, test }

    @Option(names = "--model", required = true, paramLabel = "FILE",
            description = "A .safetensors file written by `lstm train --save-path` (model, best or ckpt-*).")
    Path model;

    @Option(names = "--data-path", paramLabel = "DIR",
            description = "Folder with the corpus (any layout train takes). Default: data/ptb, downloaded and verified when missing.")
    Path dataPath;

    @Option(names = "--file", paramLabel = "FILE",
            description = "Evaluate this text instead of the split's file (batch and steps still as --split says).")
    Path file;

    @Option(names = "--split", defaultValue = "test", paramLabel = "valid|test",
            description = "valid (the config's batch and steps) or test (batch 1, 1 step). Default: ${DEFAULT-VALUE}.")
    Split split;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for OpenBLAS and the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--precision", paramLabel = "fp32|bf16",
            description = "What the GEMMs compute in (default: the precision the model was trained in).")
    String precision;

    @Override
    public Integer call() {
        int n = Options.threads(threads);
        try (Checkpoint c = Checkpoint.load(model)) {
            Main.noteUnverifiedHeader(model, c.weights().headerVerified());
            Path text = file;
            if (text == null) {
                CorpusFiles files = CorpusFiles.in(dataPath != null ? dataPath : PtbDownloader.withDefaults(System.out).ensure());
                text = split == Split.test ? files.test() : files.valid();
            } else if (dataPath != null) {
                throw new UserException("Give either --data-path DIR or --file FILE, not both.");
            }
            int[] ids = Corpus.readIds(text, c.vocabulary());
            Config cfg = c.config();
            int batch = split == Split.test ? 1 : cfg.batchSize(), steps = split == Split.test ? 1 : cfg.numSteps();
            Precision p = cfg.precision();
            if (precision != null) {
                p = Options.choice("--precision", Precision::parse, precision);
            }
            Precision gemm = ProductPolicy.gemmPrecision(p);
            if (gemm != p) System.err.println(ProductPolicy.fallbackWarning());
            try (Engine engine = new Engine(c.weights().shape(), n, gemm)) {
                c.copyWeightsInto(engine.model());
                double ppl = Evaluation.perplexity(engine, engine.newWindow(batch, steps, DropoutPlan.NONE), ids);
                System.out.printf(Locale.ROOT, "%s Perplexity: %.3f%n", split == Split.test ? "Test" : "Valid", ppl);
            }
            return 0;
        }
    }
}
