package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.infer.BatchScorer;
import lstmlm.infer.Model;
import lstmlm.infer.SentenceScore;
import lstmlm.natives.ThreadPolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Score each line of a text as one sentence: prints line number, log-probability (natural log, "
                + "the words and the closing <eos>), tokens, perplexity and unknown words, tab-separated; then totals.",
                "Words outside the vocabulary count as <unk>. Empty lines are skipped."})
final class ScoreCommand implements Callable<Integer> {
    /** Lines scored together through the batch scorer. */
    private static final int BATCH = 64;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "FILE", description = "A model or checkpoint .safetensors file.")
    Path model;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE|-", defaultValue = "-",
            description = "Text to score, one sentence per line; - or nothing: standard input.")
    String input;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "Threads for the batched GEMMs, OpenBLAS's and oneDNN's (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() {
        Options.atLeast("--threads", threads, 1);
        ThreadPolicy.useBlasThreads(threads);
        ThreadPolicy.useOpenMpThreads(threads);
        PrintWriter out = spec.commandLine().getOut();
        try (Model m = Model.load(model); BatchScorer scorer = m.newBatchScorer(BATCH);
             BufferedReader reader = open(input)) {
            Main.noteUnverifiedHeader(model, m.headerVerified());
            out.println("line\tlog_prob\ttokens\tperplexity\tunknown");
            List<List<String>> batch = new ArrayList<>();
            List<Integer> lineNumbers = new ArrayList<>();
            double[] totals = new double[3]; // log-probability, tokens, unknown words
            int lineNumber = 0;
            for (String line; (line = reader.readLine()) != null; ) {
                lineNumber++;
                String trimmed = line.strip();
                if (trimmed.isEmpty()) continue;
                batch.add(Arrays.asList(trimmed.split("\\s+")));
                lineNumbers.add(lineNumber);
                if (batch.size() == BATCH) flush(scorer, batch, lineNumbers, totals, out);
            }
            flush(scorer, batch, lineNumbers, totals, out);
            if (totals[1] == 0) throw new UserException("Nothing to score: " + describe(input) + " has no words.");
            out.printf("total\t%.4f\t%d\t%.3f\t%d%n", totals[0], (long) totals[1], Math.exp(-totals[0] / totals[1]),
                    (long) totals[2]);
            out.printf("# %d word(s) outside the vocabulary were scored as <unk>%n", (long) totals[2]);
            out.flush();
        } catch (NoSuchFileException e) {
            throw new UserException("Input file not found: " + input + ". Pass a text file, or - for standard input.");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + describe(input) + ": " + e.getMessage(), e);
        }
        return 0;
    }

    private static void flush(BatchScorer scorer, List<List<String>> batch, List<Integer> lineNumbers,
                              double[] totals, PrintWriter out) {
        if (batch.isEmpty()) return;
        List<SentenceScore> scores = scorer.score(batch);
        for (int i = 0; i < scores.size(); i++) {
            SentenceScore s = scores.get(i);
            out.printf("%d\t%.4f\t%d\t%.3f\t%d%n", lineNumbers.get(i), s.logProbability(), s.tokens(), s.perplexity(),
                    s.unknownWords());
            totals[0] += s.logProbability();
            totals[1] += s.tokens();
            totals[2] += s.unknownWords();
        }
        batch.clear();
        lineNumbers.clear();
    }

    private static BufferedReader open(String input) throws IOException {
        if (input.equals("-")) return new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        return Files.newBufferedReader(Path.of(input), StandardCharsets.UTF_8);
    }

    private static String describe(String input) {
        return input.equals("-") ? "standard input" : input;
    }
}
