package lstmlm.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;

/**
 * A run's metrics as {@code train --metrics} writes them: JSON lines, one event each. Reading
 * keeps what a plot needs, one point per epoch; when an epoch appears twice (a resumed run
 * repeats the epoch it crashed in) the later line wins. A test line counts only when no epoch
 * line follows it: a run extended past its end ({@code --resume --set max_max_epoch=N}) has not
 * been tested again yet.
 */
public record MetricsFile(Path file, List<EpochPoint> epochs, OptionalDouble testPerplexity, double elapsedSeconds) {

    /**
     * One epoch end: its learning rate, its train and valid perplexity, and its training speed in
     * words per second (NaN where the line has none, as a curve drawn while training).
     */
    public record EpochPoint(int epoch, double learningRate, double trainPerplexity, double validPerplexity,
                             double wordsPerSecond) {
        public EpochPoint(int epoch, double learningRate, double trainPerplexity, double validPerplexity) {
            this(epoch, learningRate, trainPerplexity, validPerplexity, Double.NaN);
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();

    /** The epochs, or (none yet) an error naming the file and that there is nothing to {@code purpose}. */
    public List<EpochPoint> requireEpochs(String purpose) {
        if (epochs.isEmpty()) {
            throw new ReportException("Metrics file " + file + " has no epoch yet: nothing to " + purpose
                    + " (a run writes its first epoch line when epoch 1 ends).");
        }
        return epochs;
    }

    /** Reads {@code file}; a line that is not a JSON object with an {@code event} is an error naming the file and line. */
    public static MetricsFile read(Path file) {
        Map<Integer, EpochPoint> epochs = new TreeMap<>();
        OptionalDouble test = OptionalDouble.empty();
        double elapsed = 0;
        for (Line line : lines(file)) {
            JsonNode event = line.event();
            int n = line.number();
            switch (event.get("event").asText()) {
                case "epoch" -> {
                    int epoch = requiredInt(file, n, event, "epoch");
                    epochs.put(epoch, new EpochPoint(epoch, requiredNumber(file, n, event, "lr"),
                            requiredNumber(file, n, event, "train_ppl"), requiredNumber(file, n, event, "valid_ppl"),
                            event.path("wps").isNumber() ? event.get("wps").asDouble() : Double.NaN));
                    test = OptionalDouble.empty(); // the run went on past the test before it
                }
                case "test" -> test = OptionalDouble.of(requiredNumber(file, n, event, "test_ppl"));
                case "progress" -> { }
                default -> throw new ReportException("Metrics file " + file + " line " + n
                        + ": 'event' must be progress, epoch or test, not " + event.path("event") + ".");
            }
            if (!Double.isNaN(line.elapsedSeconds())) elapsed = line.elapsedSeconds();
        }
        return new MetricsFile(file, List.copyOf(epochs.values()), test, elapsed);
    }

    /** One non-blank line of a metrics file: its 1-based number, its text and its event. */
    record Line(int number, String text, JsonNode event) {
        /** Its {@code elapsed_s}; NaN when it has none. */
        double elapsedSeconds() {
            return event.path("elapsed_s").isNumber() ? event.get("elapsed_s").asDouble() : Double.NaN;
        }

        /**
         * Where the run stood when it wrote this line, as (0-based epoch, windows of it done): a
         * progress line at its epoch and step, an epoch or test line at the next epoch's start; null
         * when the line does not say.
         */
        int[] position() {
            JsonNode epoch = event.get("epoch"), step = event.get("step");
            if (epoch == null || !epoch.isIntegralNumber()) return null;
            return switch (event.get("event").asText()) {
                case "progress" -> step != null && step.isIntegralNumber() ? new int[]{epoch.asInt() - 1, step.asInt()} : null;
                case "epoch", "test" -> new int[]{epoch.asInt(), 0};
                default -> null;
            };
        }
    }

    /** The events of {@code file}, blank lines left out; a line that is not a JSON object with an {@code event} is an error naming the file and line. */
    static List<Line> lines(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ReportException("Metrics file " + file + " does not exist.");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ReportException("Metrics file " + file + " is not JSON lines: it is not UTF-8 text.");
        } catch (IOException e) {
            throw new ReportException("Cannot read metrics file " + file + ": " + e.getMessage(), e);
        }
        List<Line> events = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (!line.isEmpty()) events.add(new Line(i + 1, line, parse(file, i + 1, line)));
        }
        return events;
    }

    private static JsonNode parse(Path file, int lineNumber, String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new ReportException("Metrics file " + file + " is not JSON lines: line " + lineNumber + " is not JSON ("
                    + e.getOriginalMessage() + ").");
        }
        if (node == null || !node.isObject()) {
            throw new ReportException("Metrics file " + file + " is not JSON lines: line " + lineNumber + " is not a JSON object.");
        }
        if (!node.path("event").isTextual()) {
            throw new ReportException("Metrics file " + file + " line " + lineNumber + " has no \"event\": it was not written by "
                    + "`lstm train --metrics`.");
        }
        return node;
    }

    private static double requiredNumber(Path file, int lineNumber, JsonNode event, String key) {
        JsonNode v = event.get(key);
        if (v == null || !v.isNumber()) {
            throw new ReportException("Metrics file " + file + " line " + lineNumber + ": a " + event.get("event").asText()
                    + " event needs a number \"" + key + "\".");
        }
        return v.asDouble();
    }

    private static int requiredInt(Path file, int lineNumber, JsonNode event, String key) {
        JsonNode v = event.get(key);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new ReportException("Metrics file " + file + " line " + lineNumber + ": a " + event.get("event").asText()
                    + " event needs a whole number \"" + key + "\".");
        }
        return v.asInt();
    }

    /** The label a plot gives this run: the file name without {@code .jsonl}. */
    public String label() {
        String name = file.getFileName().toString();
        return name.endsWith(".jsonl") ? name.substring(0, name.length() - ".jsonl".length()) : name;
    }

    /** The same points as a run being plotted while it trains. */
    public TrainingCurve.Run toRun(String label) {
        return new TrainingCurve.Run(label, new ArrayList<>(epochs), testPerplexity);
    }
}
