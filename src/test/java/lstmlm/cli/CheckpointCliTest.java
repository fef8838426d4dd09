package lstmlm.cli;

import lstmlm.train.Checkpoint;
import lstmlm.train.CheckpointStore;
import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train --save-path, train --resume and eval from the command line, on the tiny corpus. */
class CheckpointCliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run lstm(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static String lines(String log, String prefix) {
        return Arrays.stream(log.split("\n")).filter(l -> l.contains(prefix)).reduce("", (a, b) -> a + b + "\n");
    }

    @Test
    void trainResumeAndEvalFromTheCommandLine() throws Exception {
        String data = TinyRun.corpus(tmp).toString(), config = TinyRun.configFile(tmp).toString();
        Path straight = tmp.resolve("straight"), split = tmp.resolve("split");
        Run a = lstm("train", "--config", config, "--data-path", data, "--save-path", straight.toString(),
                "--seed", "9", "--threads", "1", "--max-epochs", "2");
        assertEquals(0, a.code(), a.err());
        Run b1 = lstm("train", "--config", config, "--data-path", data, "--save-path", split.toString(),
                "--seed", "9", "--threads", "1", "--max-epochs", "1", "--checkpoint-every", "50", "--keep", "2");
        assertEquals(0, b1.code(), b1.err());
        assertEquals(2, CheckpointStore.checkpoints(split).size(), "--keep 2");
        assertTrue(Files.exists(split.resolve("best.safetensors")));

        // a flag that changes the maths is refused; --threads and --max-epochs are not maths
        Run conflict = lstm("train", "--resume", split.toString(), "--data-path", data, "--seed", "10", "--set", "keep_prob=0.9");
        assertEquals(2, conflict.code());
        assertTrue(conflict.err().contains("keep_prob=0.9") && conflict.err().contains("--seed 10"), conflict.err());

        Run b2 = lstm("train", "--resume", split.toString(), "--data-path", data, "--threads", "1", "--max-epochs", "2");
        assertEquals(0, b2.code(), b2.err());
        assertTrue(b2.out().contains("Resumed from"), b2.out());
        assertEquals(lines(a.out(), "Valid Perplexity"), lines(b1.out() + b2.out(), "Valid Perplexity"));
        assertEquals(lines(a.out(), "Test Perplexity").lines().toList().getLast(),
                lines(b2.out(), "Test Perplexity").strip());
        try (Checkpoint x = Checkpoint.load(straight.resolve("model.safetensors"));
             Checkpoint y = Checkpoint.load(split.resolve("model.safetensors"))) {
            assertArrayEquals(x.model().params.toArray(JAVA_FLOAT), y.model().params.toArray(JAVA_FLOAT));
            assertEquals(x.metadata().get("tensors.sha256"), y.metadata().get("tensors.sha256"));
        }

        // eval prints what training printed for test
        Run eval = lstm("eval", "--model", straight.resolve("model.safetensors").toString(), "--data-path", data,
                "--threads", "1");
        assertEquals(0, eval.code(), eval.err());
        assertEquals(lines(a.out(), "Test Perplexity").lines().toList().getLast(), eval.out().strip());
        Run valid = lstm("eval", "--model", straight.resolve("best.safetensors").toString(), "--data-path", data,
                "--split", "valid", "--threads", "1");
        assertTrue(valid.out().startsWith("Valid Perplexity: "), valid.out());
    }

    @Test
    void aBadModelFileIsAClearErrorNotAStackTrace() throws Exception {
        Path bad = Files.writeString(tmp.resolve("bad.safetensors"), "not a model at all");
        Run r = lstm("eval", "--model", bad.toString(), "--data-path", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: Bad model file " + bad), r.err());
        Run none = lstm("train", "--resume", tmp.resolve("empty").toString());
        assertEquals(2, none.code());
        assertTrue(none.err().contains("No checkpoint to resume from"), none.err());
    }
}
