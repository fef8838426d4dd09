package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.infer.BeamSearch;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.infer.StepThreads;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a trained model: <eos> starts a new line.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "A model or checkpoint .safetensors file.")
    Path model;

    @Option(names = "--prompt", paramLabel = "TEXT", defaultValue = "",
            description = "Words to start from (outside the vocabulary: <unk>). Default: none, a sentence start.")
    String prompt;

    @Option(names = "--words", paramLabel = "N", defaultValue = "50", description = "Words to generate (default: ${DEFAULT-VALUE}).")
    int words;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0",
            description = "Below 1 sharper, above 1 flatter; 0 always takes the most likely word (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
            description = "Draw only among the K most likely words; 0: all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--beam", paramLabel = "N", defaultValue = "0",
            description = "Instead of sampling: beam search of width N for the most likely sentence (log-probability per word;"
                    + " <eos> ends it, --words bounds it); --temperature, --top-k and --seed do not apply. 0: sample (default).")
    int beam;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the sampler (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "Sampling: each step's products split over N threads, the same words bit for bit (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() {
        if (words < 0) throw new UserException("--words must be >= 0, got " + words);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new UserException("--temperature must be a number >= 0, got " + temperature);
        }
        if (topK < 0) throw new UserException("--top-k must be >= 0 (0: the whole vocabulary), got " + topK);
        if (beam < 0) throw new UserException("--beam must be >= 0 (0: sample instead), got " + beam);
        if (threads < 1) throw new UserException("--threads must be >= 1, got " + threads);
        PrintWriter out = spec.commandLine().getOut();
        if (beam > 0) return beamSearch(out);
        try (Model m = Model.load(model); StepThreads split = new StepThreads(threads); Session session = m.newSession(split)) {
            Main.noteUnverifiedHeader(model, m.headerVerified());
            SplittableRandom random = new SplittableRandom(seed);
            int eos = m.vocabulary().eosId();
            if (eos >= 0) session.feed(eos);
            StringBuilder line = new StringBuilder();
            int unknown = 0;
            for (String w : promptWords()) {
                if (m.vocabulary().id(w) < 0) unknown++;
                session.feed(w);
                line.append(w).append(' ');
            }
            if (!session.hasPrediction()) {
                throw new UserException("The vocabulary has no <eos> to start from: give a --prompt.");
            }
            for (int i = 0; i < words; i++) {
                int next = session.sample(temperature, topK, random);
                if (next == eos) {
                    out.println(line.toString().stripTrailing());
                    line.setLength(0);
                } else {
                    line.append(m.vocabulary().word(next)).append(' ');
                }
                session.feed(next);
            }
            if (!line.isEmpty()) out.println(line.toString().stripTrailing());
            noteUnknown(unknown);
            out.flush();
        }
        return 0;
    }

    /** The prompt and its most likely continuation to the first {@code <eos>} (at most --words words), on one line. */
    private int beamSearch(PrintWriter out) {
        if (words < 1) throw new UserException("--words must be >= 1 with --beam, got " + words);
        try (Model m = Model.load(model)) {
            Main.noteUnverifiedHeader(model, m.headerVerified());
            int eos = m.vocabulary().eosId();
            if (eos < 0) throw new UserException("The vocabulary has no <eos>, which --beam needs to end a sentence: sample instead.");
            List<String> promptWords = promptWords();
            Model.Ids ids = m.afterEos(promptWords);
            int unknown = ids.unknown();
            BeamSearch.Hypothesis best = new BeamSearch(m, beam)
                    .search(ids.ids(), new BeamSearch.Options(words, true, true)).getFirst();
            StringBuilder line = new StringBuilder(String.join(" ", promptWords));
            for (int id : best.ids()) {
                if (id == eos) break;
                if (!line.isEmpty()) line.append(' ');
                line.append(m.vocabulary().word(id));
            }
            out.println(line);
            noteUnknown(unknown);
            out.flush();
        }
        return 0;
    }

    /** The --prompt's words (none for a blank prompt). */
    private List<String> promptWords() {
        return prompt.isBlank() ? List.of() : List.of(prompt.trim().split("\\s+"));
    }

    private void noteUnknown(int unknown) {
        if (unknown > 0) spec.commandLine().getErr().println("note: " + unknown + " prompt word(s) outside the vocabulary were fed as <unk>");
    }
}
