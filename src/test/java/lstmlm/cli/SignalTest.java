package lstmlm.cli;

import lstmlm.modelfile.SafetensorsFile;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lstm train} in a child JVM, signalled (SIGINT, SIGTERM, sometimes twice) at random points
 * again and again and resumed each time, ends with the weights and perplexities of a run never
 * signalled, bit for bit. {@code -Dlstm.signal.rounds=N} sets how many signals (default 6).
 */
class SignalTest {
    @TempDir
    Path tmp;

    private static final Pattern PHASE = Pattern.compile("it came during (\\w+)");

    @Test
    void signalledAtRandomPointsAndResumedEveryRunEndsBitIdentical() throws Exception {
        Path data = TinyRun.corpus(tmp), config = TinyRun.configFile(tmp);
        // validation as long as the training pass, so that a signal can land in it
        Files.copy(data.resolve("ptb.train.txt"), data.resolve("ptb.valid.txt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        int rounds = Integer.getInteger("lstm.signal.rounds", 6);
        // one more epoch for every five signals, so that the run outlasts them
        List<String> common = List.of("--data-path", data.toString(), "--checkpoint-every", "20", "--keep", "2",
                "--threads", "1", "--set", "hidden_size=32", "--set", "max_max_epoch=" + (3 + rounds / 5));
        boolean intWorks = defaultSignalsAvailable();
        ChildJvm reference = ChildJvm.start(intWorks, args(common, "--config", config.toString(), "--save-path", tmp.resolve("ref").toString()));
        assertEquals(0, reference.waitFor(), reference.err());

        SplittableRandom random = new SplittableRandom(Long.getLong("lstm.signal.seed", 5));
        Path run = tmp.resolve("run");
        Map<String, Integer> tally = new TreeMap<>();
        int signals = 0, resumes = 0;
        boolean started = false;
        while (true) {
            List<String> a = started ? args(common, "--resume", run.toString())
                    : args(common, "--config", config.toString(), "--save-path", run.toString());
            ChildJvm child = ChildJvm.start(intWorks, a);
            if (started) resumes++;
            started = true;
            if (signals >= rounds) {
                assertEquals(0, child.waitFor(), child.err());
                break;
            }
            String signal = intWorks && signals % 2 == 0 ? "INT" : "TERM";
            // 0: just after a progress line (inside the training pass: a resume that starts at a
            // validation would otherwise stop in it again and again); 1: as validation starts;
            // 2: at a random time; 3: at a random time, twice in a row
            int mode = signals % 4;
            if (!child.awaitLine(l -> l.startsWith("Epoch: "), 60)) { // training has begun
                assertEquals(0, child.waitFor(), "the child ended before training: " + child.err());
                continue;
            }
            boolean running = switch (mode) {
                case 0 -> child.awaitLine(l -> l.contains(" perplexity: ") && l.contains(" speed: "), 60);
                case 1 -> child.awaitLine(l -> l.matches("Epoch: \\d+ Train Perplexity: .*"), 60);
                default -> {
                    Thread.sleep(random.nextInt(0, 1200));
                    yield true;
                }
            };
            if (!running) { // no such point was left: the run has finished
                assertEquals(0, child.waitFor(), child.err());
                tally.merge("finished before the signal", 1, Integer::sum);
                break;
            }
            child.signal(signal);
            if (mode == 3) {
                Thread.sleep(random.nextInt(1, 40));
                child.signal(signal);
            }
            signals++;
            int exit = child.waitFor();
            String err = child.err();
            if (exit == 0) {
                tally.merge("finished before the signal took effect", 1, Integer::sum);
                break;
            }
            assertEquals(signal.equals("INT") ? 130 : 143, exit, err);
            if (err.contains("again: exiting now")) {
                tally.merge("second signal: halted", 1, Integer::sum);
            } else {
                assertTrue(err.contains("holds this position exactly") && err.contains("lstm train --resume " + run), err);
                Matcher m = PHASE.matcher(err);
                assertTrue(m.find(), err);
                tally.merge("stopped, signal during " + m.group(1), 1, Integer::sum);
            }
        }
        try (SafetensorsFile expected = SafetensorsFile.open(tmp.resolve("ref/model.safetensors"));
             SafetensorsFile actual = SafetensorsFile.open(run.resolve("model.safetensors"))) {
            assertEquals(expected.tensors().keySet(), actual.tensors().keySet());
            for (String name : expected.tensors().keySet()) {
                assertEquals(-1L, expected.data(name).mismatch(actual.data(name)), name + " differs");
            }
            for (String key : List.of("test_perplexity", "history.train_perplexity", "history.valid_perplexity", "global_step")) {
                assertEquals(expected.metadata().get(key), actual.metadata().get(key), key);
            }
        }
        System.out.printf("signals: %d (%s), resumes: %d, outcomes: %s; final weights and perplexities bit-identical%n",
                signals, intWorks ? "INT and TERM alternating" : "TERM only", resumes, tally);
    }

    private static List<String> args(List<String> common, String... more) {
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(List.of(more));
        a.addAll(common);
        return a;
    }

    /**
     * Whether {@code env --default-signal} (GNU coreutils 8.31+) can give the child the default SIGINT
     * disposition: a JVM started with SIGINT ignored (a background job of a script, nohup) cannot
     * handle it, and children inherit that.
     */
    private static boolean defaultSignalsAvailable() {
        try {
            return new ProcessBuilder("env", "--default-signal=INT", "true").start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** A child JVM running the lstm command, its stdout read line by line as it comes. */
}
